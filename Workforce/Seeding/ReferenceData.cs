namespace AspirePerf.Workforce.Seeding;

/// <summary>
/// Fixed reference tables. Sector and region weights shape where employers are; an occupation's median wage is the
/// centre of its log-normal wage distribution (monthly, local currency).
/// </summary>
public static class ReferenceData
{
    public sealed record SectorInfo(short Id, string Code, string Name, double EmployerWeight, double WageFactor);

    public sealed record RegionInfo(short Id, string Code, string Name, double Weight);

    public sealed record OccupationInfo(short Id, string Code, string Title, short MajorGroup, short SkillLevel, decimal MedianWage);

    public static readonly IReadOnlyList<SectorInfo> Sectors =
    [
        new(1, "CON", "Construction", 0.17, 0.95),
        new(2, "TRD", "Wholesale and retail trade", 0.16, 0.95),
        new(3, "MFG", "Manufacturing", 0.10, 1.00),
        new(4, "HOS", "Accommodation and food services", 0.09, 0.85),
        new(5, "TRN", "Transport and logistics", 0.07, 1.00),
        new(6, "FIN", "Finance and insurance", 0.04, 1.35),
        new(7, "ICT", "Information and communication", 0.04, 1.30),
        new(8, "HLT", "Human health and social work", 0.06, 1.10),
        new(9, "EDU", "Education", 0.06, 1.05),
        new(10, "PUB", "Public administration", 0.05, 1.20),
        new(11, "PRO", "Professional and technical services", 0.07, 1.15),
        new(12, "OTH", "Household and other services", 0.09, 0.75),
    ];

    public static readonly IReadOnlyList<RegionInfo> Regions =
    [
        new(1, "CAP", "Capital", 0.34),
        new(2, "COA", "Coastal", 0.22),
        new(3, "NOR", "Northern", 0.12),
        new(4, "EAS", "Eastern", 0.11),
        new(5, "SOU", "Southern", 0.08),
        new(6, "WES", "Western", 0.06),
        new(7, "CEN", "Central", 0.05),
        new(8, "BOR", "Border", 0.02),
    ];

    public static readonly IReadOnlyList<OccupationInfo> Occupations =
    [
        new(1, "1120", "Managing directors and chief executives", 1, 4, 32000m),
        new(2, "1211", "Finance managers", 1, 4, 26000m),
        new(3, "1321", "Manufacturing managers", 1, 4, 21000m),
        new(4, "1412", "Restaurant managers", 1, 3, 12000m),
        new(5, "2142", "Civil engineers", 2, 4, 16000m),
        new(6, "2211", "Generalist medical practitioners", 2, 4, 24000m),
        new(7, "2330", "Secondary education teachers", 2, 4, 11000m),
        new(8, "2512", "Software developers", 2, 4, 18000m),
        new(9, "2411", "Accountants", 2, 4, 13000m),
        new(10, "3112", "Civil engineering technicians", 3, 3, 8000m),
        new(11, "3221", "Nursing associate professionals", 3, 3, 8500m),
        new(12, "3313", "Accounting associate professionals", 3, 3, 7500m),
        new(13, "3512", "ICT user support technicians", 3, 3, 8200m),
        new(14, "4110", "General office clerks", 4, 2, 5500m),
        new(15, "4211", "Bank tellers", 4, 2, 6500m),
        new(16, "4321", "Stock clerks", 4, 2, 4500m),
        new(17, "5120", "Cooks", 5, 2, 3200m),
        new(18, "5131", "Waiters", 5, 2, 2600m),
        new(19, "5223", "Shop sales assistants", 5, 2, 3000m),
        new(20, "5414", "Security guards", 5, 2, 2900m),
        new(21, "6113", "Gardeners and horticultural growers", 6, 2, 2400m),
        new(22, "6121", "Livestock and dairy producers", 6, 2, 2500m),
        new(23, "7112", "Bricklayers", 7, 2, 2800m),
        new(24, "7126", "Plumbers and pipe fitters", 7, 2, 3400m),
        new(25, "7411", "Building electricians", 7, 2, 3800m),
        new(26, "7231", "Motor vehicle mechanics", 7, 2, 3600m),
        new(27, "8182", "Steam engine and boiler operators", 8, 2, 3900m),
        new(28, "8322", "Car, taxi and van drivers", 8, 2, 3100m),
        new(29, "8332", "Heavy truck and lorry drivers", 8, 2, 3700m),
        new(30, "8344", "Lifting truck operators", 8, 2, 3300m),
        new(31, "9111", "Domestic cleaners and helpers", 9, 1, 1500m),
        new(32, "9313", "Building construction labourers", 9, 1, 1800m),
        new(33, "9321", "Hand packers", 9, 1, 1700m),
        new(34, "9412", "Kitchen helpers", 9, 1, 1600m),
        new(35, "9621", "Messengers and porters", 9, 1, 1650m),
        new(36, "9613", "Sweepers and related labourers", 9, 1, 1450m),
    ];

    public static string[] SectorCodes => [.. Sectors.Select(s => s.Code)];

    public static string[] RegionCodes => [.. Regions.Select(r => r.Code)];

    /// <summary>The data covers spells and vacancies from this date up to <see cref="LastDay"/>.</summary>
    public static readonly DateOnly FirstDay = new(2015, 1, 1);

    public static readonly DateOnly LastDay = new(2025, 12, 31);
}
