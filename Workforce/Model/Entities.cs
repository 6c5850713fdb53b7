namespace AspirePerf.Workforce.Model;

// Plain entity classes. Codes (size band, ownership, nationality group, gender, education, contract type) are text
// with check constraints rather than PostgreSQL enums: readable in query results and trivial to COPY.

public sealed class Sector
{
    public short Id { get; set; }
    public required string Code { get; set; }
    public required string Name { get; set; }
}

public sealed class Region
{
    public short Id { get; set; }
    public required string Code { get; set; }
    public required string Name { get; set; }
}

public sealed class Occupation
{
    public short Id { get; set; }
    public required string Code { get; set; }
    public required string Title { get; set; }
    /// <summary>ISCO-08 major group, 1 (managers) to 9 (elementary occupations).</summary>
    public short MajorGroup { get; set; }
    /// <summary>ISCO skill level 1 (lowest) to 4.</summary>
    public short SkillLevel { get; set; }
}

public sealed class Employer
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public short SectorId { get; set; }
    public short RegionId { get; set; }
    public required string SizeBand { get; set; }
    public required string Ownership { get; set; }
    public short FoundedYear { get; set; }
}

public sealed class Person
{
    public int Id { get; set; }
    public required string NationalityGroup { get; set; }
    public required string Gender { get; set; }
    public short BirthYear { get; set; }
    public required string Education { get; set; }
}

public sealed class EmploymentSpell
{
    public long Id { get; set; }
    public int PersonId { get; set; }
    public int EmployerId { get; set; }
    public short OccupationId { get; set; }
    public DateOnly StartDate { get; set; }
    public DateOnly? EndDate { get; set; }
    public decimal MonthlyWage { get; set; }
    public required string ContractType { get; set; }
}

public sealed class Vacancy
{
    public int Id { get; set; }
    public int EmployerId { get; set; }
    public short OccupationId { get; set; }
    public DateOnly PostedDate { get; set; }
    public DateOnly? FilledDate { get; set; }
    public decimal OfferedWage { get; set; }
}

/// <summary>One row, written in the same transaction as the data: what was seeded, with which seed and scale.</summary>
public sealed class SeedMarker
{
    public int Id { get; set; }
    public int Version { get; set; }
    public int Seed { get; set; }
    public int Scale { get; set; }
    public required string Checksum { get; set; }
    public long Rows { get; set; }
    public double DurationMs { get; set; }
    public DateTimeOffset SeededAt { get; set; }
}

public static class Codes
{
    public static readonly string[] SizeBands = ["micro", "small", "medium", "large"];
    public static readonly string[] Ownerships = ["private", "public", "foreign"];
    public static readonly string[] NationalityGroups = ["citizen", "expatriate"];
    public static readonly string[] Genders = ["female", "male"];
    public static readonly string[] EducationLevels = ["none", "secondary", "diploma", "bachelor", "master", "doctorate"];
    public static readonly string[] ContractTypes = ["permanent", "fixed_term", "part_time", "temporary"];
}
