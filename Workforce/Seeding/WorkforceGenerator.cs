using AspirePerf.Workforce.Model;

namespace AspirePerf.Workforce.Seeding;

/// <summary>
/// Generates the workload deterministically from a seed and a scale (the number of employment spells). Each table
/// draws from its own <see cref="Random"/> derived from the seed, and seeded <see cref="Random"/> is stable across
/// .NET versions, so the same seed and scale give the same rows byte for byte.
/// Shape: employers Zipf-distributed by size (few large, many small), log-normal wages by occupation adjusted for
/// sector, education, nationality group and gender, careers of consecutive spells (turnover), seasonal vacancies.
/// </summary>
public sealed class WorkforceGenerator
{
    private static readonly string[] NamePrefixes = ["Al Noor", "Gulf Star", "Desert Rose", "Blue Wave", "Golden Palm", "Crescent", "Falcon", "Oasis", "Pearl", "Horizon", "Summit", "Atlas", "Cedar", "Delta", "Emerald", "Zenith"];
    private static readonly string[] NameNouns = ["Holdings", "Group", "Trading", "Services", "Partners", "Enterprises", "Works", "Solutions"];
    private static readonly double[] MonthWeights = [1.2, 1.1, 1.2, 1.0, 0.9, 0.7, 0.6, 0.8, 1.3, 1.3, 1.0, 0.9];

    // Major-group (1..9) weights by education level, in Codes.EducationLevels order.
    private static readonly double[][] MajorGroupByEducation =
    [
        [0, 0, 0, 0, .10, .08, .25, .17, .40],
        [.01, .01, .05, .12, .25, .04, .22, .15, .15],
        [.03, .05, .30, .22, .18, .01, .10, .07, .04],
        [.10, .45, .20, .13, .08, 0, .02, .01, .01],
        [.25, .60, .10, .04, .01, 0, 0, 0, 0],
        [.20, .75, .05, 0, 0, 0, 0, 0, 0],
    ];
    private static readonly double[] EducationWageEffect = [-0.15, -0.05, 0, 0.10, 0.20, 0.30];
    private static readonly double[] CitizenEducation = [.02, .28, .22, .38, .08, .02];
    private static readonly double[] ExpatriateEducation = [.20, .42, .14, .18, .05, .01];
    private static readonly double[] ContractWeights = [.55, .30, .08, .07];

    private readonly int _seed;
    private readonly double[] _employerCumulative;
    private readonly short[][] _occupationsByGroup;

    public WorkforceGenerator(int seed, int scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 10);
        _seed = seed;
        Scale = scale;
        EmployerCount = Math.Max(20, scale / 40);
        VacancyCount = Math.Max(10, scale / 8);

        // Zipf-like: the employer with id i has weight (i + 5)^-1.15, so id 1 is the largest.
        _employerCumulative = new double[EmployerCount];
        var total = 0.0;
        for (var i = 0; i < EmployerCount; i++)
        {
            total += Math.Pow(i + 6, -1.15);
            _employerCumulative[i] = total;
        }
        _occupationsByGroup = [.. Enumerable.Range(1, 9).Select(g => ReferenceData.Occupations.Where(o => o.MajorGroup == g).Select(o => o.Id).ToArray())];
    }

    public int Scale { get; }

    public int EmployerCount { get; }

    public int VacancyCount { get; }

    public IEnumerable<Employer> Employers()
    {
        var random = new Random(_seed * 31 + 1);
        var total = _employerCumulative[^1];
        for (var i = 0; i < EmployerCount; i++)
        {
            var sector = ReferenceData.Sectors[Pick(random, ReferenceData.Sectors, s => s.EmployerWeight)];
            var region = ReferenceData.Regions[Pick(random, ReferenceData.Regions, r => r.Weight)];
            var expectedSpells = Scale * ((_employerCumulative[i] - (i == 0 ? 0 : _employerCumulative[i - 1])) / total);
            var ownershipDraw = random.NextDouble();
            yield return new Employer
            {
                Id = i + 1,
                Name = $"{NamePrefixes[random.Next(NamePrefixes.Length)]} {sector.Name.Split(' ')[0]} {NameNouns[random.Next(NameNouns.Length)]} {i + 1}",
                SectorId = sector.Id,
                RegionId = region.Id,
                SizeBand = expectedSpells switch { >= 500 => "large", >= 100 => "medium", >= 20 => "small", _ => "micro" },
                Ownership = sector.Code == "PUB" ? "public" : ownershipDraw < 0.84 ? "private" : ownershipDraw < 0.92 ? "public" : "foreign",
                FoundedYear = (short)random.Next(1965, 2023),
            };
        }
    }

    /// <summary>
    /// Persons and their employment spells, generated together: each person's career is a run of consecutive spells
    /// (the turnover the queries measure), and persons are created until the spell count reaches the scale.
    /// </summary>
    public (List<Person> Persons, List<EmploymentSpell> Spells) PersonsAndSpells()
    {
        var random = new Random(_seed * 31 + 2);
        var persons = new List<Person>(Scale / 2);
        var spells = new List<EmploymentSpell>(Scale);
        var span = ReferenceData.LastDay.DayNumber - ReferenceData.FirstDay.DayNumber;
        var employerSectorFactor = EmployerSectorWageFactors();

        while (spells.Count < Scale)
        {
            var citizen = random.NextDouble() < 0.30;
            var education = Pick(random, citizen ? CitizenEducation : ExpatriateEducation);
            var female = random.NextDouble() < (citizen ? 0.42 : 0.18);
            var person = new Person
            {
                Id = persons.Count + 1,
                NationalityGroup = citizen ? "citizen" : "expatriate",
                Gender = female ? "female" : "male",
                BirthYear = (short)(1960 + (random.Next(0, 23) + random.Next(0, 22))),
                Education = Codes.EducationLevels[education],
            };
            persons.Add(person);

            var spellsWanted = 1 + Pick(random, [.40, .30, .18, .12]);
            var day = ReferenceData.FirstDay.DayNumber + random.Next(0, span - 30);
            for (var s = 0; s < spellsWanted && spells.Count < Scale && day <= ReferenceData.LastDay.DayNumber; s++)
            {
                var duration = 30 + (int)(-Math.Log(1 - random.NextDouble()) * 800);
                var end = day + duration;
                var employerId = PickEmployer(random);
                var group = Pick(random, MajorGroupByEducation[education]);
                var occupationId = _occupationsByGroup[group][random.Next(_occupationsByGroup[group].Length)];
                var occupation = ReferenceData.Occupations[occupationId - 1];
                var logWage = Math.Log((double)occupation.MedianWage * employerSectorFactor[employerId - 1])
                    + EducationWageEffect[education] + (citizen ? 0.25 : 0) + (female ? -0.12 : 0) + 0.35 * Gaussian(random);
                spells.Add(new EmploymentSpell
                {
                    Id = spells.Count + 1,
                    PersonId = person.Id,
                    EmployerId = employerId,
                    OccupationId = occupationId,
                    StartDate = DateOnly.FromDayNumber(day),
                    EndDate = end > ReferenceData.LastDay.DayNumber ? null : DateOnly.FromDayNumber(end),
                    MonthlyWage = Math.Max(800m, Math.Round((decimal)Math.Exp(logWage), 2)),
                    ContractType = Codes.ContractTypes[Pick(random, ContractWeights)],
                });
                day = end + 1 + (int)(-Math.Log(1 - random.NextDouble()) * 90);
            }
        }
        return (persons, spells);
    }

    public IEnumerable<Vacancy> Vacancies()
    {
        var random = new Random(_seed * 31 + 3);
        var years = ReferenceData.LastDay.Year - ReferenceData.FirstDay.Year + 1;
        for (var i = 0; i < VacancyCount; i++)
        {
            var group = Pick(random, MajorGroupByEducation[1]);
            var occupationId = _occupationsByGroup[group][random.Next(_occupationsByGroup[group].Length)];
            var occupation = ReferenceData.Occupations[occupationId - 1];
            var month = 1 + Pick(random, MonthWeights);
            var year = ReferenceData.FirstDay.Year + random.Next(years);
            var posted = new DateOnly(year, month, 1 + random.Next(DateTime.DaysInMonth(year, month)));
            var baseDays = occupation.SkillLevel switch { 1 => 18, 2 => 28, 3 => 45, _ => 65 };
            var days = (int)Math.Round(baseDays * Math.Exp(0.5 * Gaussian(random)));
            var filled = random.NextDouble() < 0.82 ? posted.AddDays(days) : (DateOnly?)null;
            yield return new Vacancy
            {
                Id = i + 1,
                EmployerId = PickEmployer(random),
                OccupationId = occupationId,
                PostedDate = posted,
                FilledDate = filled is { } f && f <= ReferenceData.LastDay ? f : null,
                OfferedWage = Math.Round((decimal)((double)occupation.MedianWage * Math.Exp(0.25 * Gaussian(random))), 2),
            };
        }
    }

    private double[] EmployerSectorWageFactors()
    {
        var factors = new double[EmployerCount];
        foreach (var employer in Employers())
        {
            factors[employer.Id - 1] = ReferenceData.Sectors[employer.SectorId - 1].WageFactor;
        }
        return factors;
    }

    private int PickEmployer(Random random)
    {
        var target = random.NextDouble() * _employerCumulative[^1];
        var index = Array.BinarySearch(_employerCumulative, target);
        return (index < 0 ? ~index : index) + 1;
    }

    private static int Pick<T>(Random random, IReadOnlyList<T> items, Func<T, double> weight)
    {
        var total = items.Sum(weight);
        var target = random.NextDouble() * total;
        for (var i = 0; i < items.Count; i++)
        {
            target -= weight(items[i]);
            if (target < 0)
            {
                return i;
            }
        }
        return items.Count - 1;
    }

    private static int Pick(Random random, double[] weights) => Pick(random, weights, w => w);

    // Box-Muller: one standard normal draw.
    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
