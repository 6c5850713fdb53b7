using AspirePerf.Workforce.Seeding;

namespace AspirePerf.Workforce.Tests;

/// <summary>The generated data has the shape the queries are meant to find.</summary>
public sealed class GeneratorTests
{
    private static readonly WorkforceGenerator Generator = new(seed: 42, scale: 40_000);
    private static readonly (List<Model.Person> Persons, List<Model.EmploymentSpell> Spells) Careers = Generator.PersonsAndSpells();

    [Fact]
    public void Spells_match_the_scale_exactly_and_every_reference_is_valid()
    {
        var (persons, spells) = Careers;
        var personIds = persons.Select(p => p.Id).ToHashSet();

        Assert.Equal(40_000, spells.Count);
        Assert.All(spells, s =>
        {
            Assert.Contains(s.PersonId, personIds);
            Assert.InRange(s.EmployerId, 1, Generator.EmployerCount);
            Assert.InRange(s.OccupationId, 1, ReferenceData.Occupations.Count);
            Assert.True(s.EndDate is null || s.EndDate >= s.StartDate);
            Assert.InRange(s.StartDate, ReferenceData.FirstDay, ReferenceData.LastDay);
        });
    }

    [Fact]
    public void Few_large_employers_and_many_small_ones()
    {
        var perEmployer = Careers.Spells.GroupBy(s => s.EmployerId).Select(g => g.Count()).OrderDescending().ToList();
        var topOnePercent = perEmployer.Take(Math.Max(1, Generator.EmployerCount / 100)).Sum();
        var median = perEmployer[perEmployer.Count / 2];

        Assert.True(topOnePercent > 0.15 * Careers.Spells.Count, $"top 1% of employers hold {topOnePercent} spells");
        Assert.True(perEmployer[0] > 50 * median, $"largest {perEmployer[0]}, median {median}");
        var bands = Generator.Employers().GroupBy(e => e.SizeBand).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(bands["micro"] > bands.GetValueOrDefault("large"), "more micro than large employers");
    }

    [Fact]
    public void Wages_are_log_normal_around_each_occupations_median()
    {
        var byGroup = Careers.Spells
            .GroupBy(s => ReferenceData.Occupations[s.OccupationId - 1].MajorGroup)
            .ToDictionary(g => g.Key, g => Median(g.Select(s => s.MonthlyWage)));
        var logs = Careers.Spells.Select(s => Math.Log((double)s.MonthlyWage)).ToList();
        var mean = logs.Average();
        var skew = logs.Sum(l => Math.Pow(l - mean, 3)) / logs.Count / Math.Pow(logs.Sum(l => Math.Pow(l - mean, 2)) / logs.Count, 1.5);

        Assert.True(byGroup[1] > byGroup[5] && byGroup[5] > byGroup[9], "managers earn more than service workers, who earn more than elementary workers");
        Assert.InRange(skew, -0.6, 0.6);
    }

    [Fact]
    public void Vacancy_postings_are_seasonal_and_filled_ones_take_days()
    {
        var vacancies = Generator.Vacancies().ToList();
        var byMonth = vacancies.GroupBy(v => v.PostedDate.Month).ToDictionary(g => g.Key, g => g.Count());

        Assert.True(byMonth[9] > byMonth[7] * 1.5, $"September {byMonth[9]} vs July {byMonth[7]}");
        Assert.InRange(vacancies.Count(v => v.FilledDate is not null) / (double)vacancies.Count, 0.7, 0.9);
        Assert.All(vacancies.Where(v => v.FilledDate is not null), v => Assert.True(v.FilledDate >= v.PostedDate));
    }

    [Fact]
    public void The_same_seed_gives_the_same_rows()
    {
        var again = new WorkforceGenerator(seed: 42, scale: 40_000).PersonsAndSpells();

        Assert.Equal(Careers.Spells.Select(s => (s.PersonId, s.EmployerId, s.MonthlyWage, s.StartDate)),
            again.Spells.Select(s => (s.PersonId, s.EmployerId, s.MonthlyWage, s.StartDate)));
    }

    private static decimal Median(IEnumerable<decimal> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
