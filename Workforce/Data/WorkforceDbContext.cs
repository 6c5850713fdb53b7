using AspirePerf.Workforce.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;

namespace AspirePerf.Workforce.Data;

/// <summary>
/// The labor-market workload's database (<c>workforce</c>), snake_case in PostgreSQL. Indexes: primary keys and the
/// foreign-key constraints integrity needs, and deliberately nothing for analytical predicates (not even EF's
/// automatic foreign-key indexes), so the index advisor has real work: see docs/workload.md.
/// </summary>
public sealed class WorkforceDbContext(DbContextOptions<WorkforceDbContext> options) : DbContext(options)
{
    public DbSet<Sector> Sectors => Set<Sector>();
    public DbSet<Region> Regions => Set<Region>();
    public DbSet<Occupation> Occupations => Set<Occupation>();
    public DbSet<Employer> Employers => Set<Employer>();
    public DbSet<Person> Persons => Set<Person>();
    public DbSet<EmploymentSpell> EmploymentSpells => Set<EmploymentSpell>();
    public DbSet<Vacancy> Vacancies => Set<Vacancy>();
    public DbSet<SeedMarker> SeedMarkers => Set<SeedMarker>();

    /// <summary>
    /// Options every registration of this context needs (pooled contexts may not use OnConfiguring): pass it as
    /// <c>AddNpgsqlDbContext&lt;WorkforceDbContext&gt;("workforce", configureDbContextOptions: WorkforceDbContext.Configure)</c>.
    /// </summary>
    public static void Configure(DbContextOptionsBuilder optionsBuilder)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        optionsBuilder.UseSnakeCaseNamingConvention();
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        ArgumentNullException.ThrowIfNull(configurationBuilder);
        configurationBuilder.Conventions.Remove<ForeignKeyIndexConvention>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);

        modelBuilder.Entity<Sector>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasAlternateKey(x => x.Code);
        });
        modelBuilder.Entity<Region>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasAlternateKey(x => x.Code);
        });
        modelBuilder.Entity<Occupation>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasAlternateKey(x => x.Code);
            e.ToTable(t =>
            {
                t.HasCheckConstraint("ck_occupations_major_group", "major_group BETWEEN 1 AND 9");
                t.HasCheckConstraint("ck_occupations_skill_level", "skill_level BETWEEN 1 AND 4");
            });
        });
        modelBuilder.Entity<Employer>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasOne<Sector>().WithMany().HasForeignKey(x => x.SectorId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<Region>().WithMany().HasForeignKey(x => x.RegionId).OnDelete(DeleteBehavior.Restrict);
            e.ToTable(t =>
            {
                t.HasCheckConstraint("ck_employers_size_band", InList("size_band", Codes.SizeBands));
                t.HasCheckConstraint("ck_employers_ownership", InList("ownership", Codes.Ownerships));
            });
        });
        modelBuilder.Entity<Person>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.ToTable(t =>
            {
                t.HasCheckConstraint("ck_persons_nationality_group", InList("nationality_group", Codes.NationalityGroups));
                t.HasCheckConstraint("ck_persons_gender", InList("gender", Codes.Genders));
                t.HasCheckConstraint("ck_persons_education", InList("education", Codes.EducationLevels));
            });
        });
        modelBuilder.Entity<EmploymentSpell>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.MonthlyWage).HasPrecision(10, 2);
            e.HasOne<Person>().WithMany().HasForeignKey(x => x.PersonId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<Employer>().WithMany().HasForeignKey(x => x.EmployerId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<Occupation>().WithMany().HasForeignKey(x => x.OccupationId).OnDelete(DeleteBehavior.Restrict);
            e.ToTable(t =>
            {
                t.HasCheckConstraint("ck_employment_spells_dates", "end_date IS NULL OR end_date >= start_date");
                t.HasCheckConstraint("ck_employment_spells_wage", "monthly_wage > 0");
                t.HasCheckConstraint("ck_employment_spells_contract_type", InList("contract_type", Codes.ContractTypes));
            });
        });
        modelBuilder.Entity<Vacancy>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.OfferedWage).HasPrecision(10, 2);
            e.HasOne<Employer>().WithMany().HasForeignKey(x => x.EmployerId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<Occupation>().WithMany().HasForeignKey(x => x.OccupationId).OnDelete(DeleteBehavior.Restrict);
            e.ToTable(t => t.HasCheckConstraint("ck_vacancies_dates", "filled_date IS NULL OR filled_date >= posted_date"));
        });
        modelBuilder.Entity<SeedMarker>(e =>
        {
            e.Property(x => x.Id).ValueGeneratedNever();
            e.ToTable(t => t.HasCheckConstraint("ck_seed_marker_single_row", "id = 1"));
        });
    }

    private static string InList(string column, IEnumerable<string> values) =>
        $"{column} IN ({string.Join(", ", values.Select(v => $"'{v}'"))})";
}
