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
