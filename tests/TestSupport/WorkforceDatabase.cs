using AspirePerf.Performance.Auditing;
using AspirePerf.Workforce.Data;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Seeding;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.TestSupport;

/// <summary>Migrates and seeds a test database with the product's own initializer (advisory lock included).</summary>
public static class WorkforceDatabase
{
    public const int SmallScale = 4_000;

    /// <summary>
    /// At 2025-06-30: employer 1 (CON, CAP) has spells 1 and 5 active, employer 2 (FIN, COA) has 3 and 4 (4 starts that
    /// day, 5 ends that day: both count). Spell 2 ended 2025-01-31, spell 6 starts 2025-07-01.
    /// </summary>
    public const string HandWrittenDataset = """
        INSERT INTO sectors (id, code, name) VALUES (1, 'CON', 'Construction'), (6, 'FIN', 'Finance');
        INSERT INTO regions (id, code, name) VALUES (1, 'CAP', 'Capital'), (2, 'COA', 'Coastal');
        INSERT INTO occupations (id, code, title, major_group, skill_level) VALUES (1, '1120', 'Managers', 1, 4), (31, '9111', 'Cleaners', 9, 1);
        INSERT INTO employers (id, name, sector_id, region_id, size_band, ownership, founded_year) VALUES
          (1, 'A', 1, 1, 'small', 'private', 2000), (2, 'B', 6, 2, 'micro', 'public', 2010);
        INSERT INTO persons (id, nationality_group, gender, birth_year, education) VALUES
          (1, 'citizen', 'female', 1990, 'bachelor'), (2, 'expatriate', 'male', 1985, 'secondary'),
          (3, 'citizen', 'male', 1980, 'master'), (4, 'citizen', 'female', 1975, 'none'), (5, 'expatriate', 'male', 1995, 'secondary');
        INSERT INTO employment_spells (id, person_id, employer_id, occupation_id, start_date, end_date, monthly_wage, contract_type) VALUES
          (1, 1, 1, 1, '2020-01-01', NULL, 10000, 'permanent'),
          (2, 2, 1, 31, '2024-03-15', '2025-01-31', 2000, 'fixed_term'),
          (3, 2, 2, 31, '2025-02-10', NULL, 2500, 'fixed_term'),
          (4, 3, 2, 1, '2025-06-30', NULL, 20000, 'permanent'),
          (5, 4, 1, 31, '2023-05-01', '2025-06-30', 1800, 'part_time'),
          (6, 5, 1, 31, '2025-07-01', NULL, 2200, 'temporary');
        INSERT INTO vacancies (id, employer_id, occupation_id, posted_date, filled_date, offered_wage) VALUES
          (1, 1, 31, '2024-01-10', '2024-01-20', 2000), (2, 1, 31, '2024-03-01', '2024-03-31', 2100),
          (3, 2, 31, '2024-05-01', NULL, 2300), (4, 2, 1, '2024-02-01', '2024-04-01', 15000),
          (5, 2, 1, '2023-12-31', '2024-01-05', 16000);
        """;

    /// <summary>A service provider wired like the Worker's: pooled DbContext, data source, seeding options.</summary>
    public static ServiceProvider Services(string connectionString, int seed = 42, int scale = SmallScale, bool enabled = true)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Seeding:Seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Seeding:Scale"] = scale.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Seeding:Enabled"] = enabled.ToString(),
            }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContextPool<WorkforceDbContext>(o =>
        {
            o.UseNpgsql(connectionString);
            WorkforceDbContext.Configure(o);
        });
        services.AddNpgsqlDataSource(connectionString);
        services.AddWorkforceSeeding(configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>What the Worker does at start: the workforce schema and seed, then the audit trail's schema.</summary>
    public static async Task<SeedOutcome> InitializeAsync(string connectionString, int seed = 42, int scale = SmallScale)
    {
        await using var provider = Services(connectionString, seed, scale);
        var outcome = await provider.GetRequiredService<WorkforceDatabaseInitializer>().InitializeAsync(_ => { }, CancellationToken.None);
        await AuditSchema.MigrateAsync(provider.GetRequiredService<NpgsqlDataSource>(), CancellationToken.None);
        return outcome;
    }

    /// <summary>Only the schema: for tests that insert a hand-written dataset.</summary>
    public static async Task MigrateAsync(string connectionString)
    {
        await using var provider = Services(connectionString, enabled: false);
        await provider.GetRequiredService<WorkforceDatabaseInitializer>().InitializeAsync(_ => { }, CancellationToken.None);
    }

    public static async Task<string> ChecksumAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return await WorkforceSeeder.ComputeChecksumAsync(connection, CancellationToken.None);
    }

    public static async Task<long> CountAsync(string connectionString, string table)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        // Table names here come from test code only, never from input.
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
