using AspirePerf.Workforce.Seeding;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.Workforce.Data;

/// <summary>
/// Migrates and seeds the workforce database once, however many workers start together: the whole step runs under
/// a PostgreSQL session advisory lock, so a second worker waits, then finds the seed marker and does nothing.
/// </summary>
public sealed partial class WorkforceDatabaseInitializer(
    IServiceScopeFactory scopes,
    NpgsqlDataSource dataSource,
    WorkforceSeeder seeder,
    IOptions<SeedingOptions> seeding,
    ILogger<WorkforceDatabaseInitializer> logger)
{
    /// <summary>The advisory lock key: the first 8 bytes of "aspireperf.workforce.init" would do; a constant is clearer.</summary>
    public const long AdvisoryLockKey = 0x41_73_70_50_65_72_66_01;

    public async Task<SeedOutcome> InitializeAsync(Action<string> reportStage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reportStage);
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        reportStage("Waiting for the initialization lock");
        await using (var acquire = new NpgsqlCommand("SELECT pg_advisory_lock($1)", lockConnection))
        {
            acquire.Parameters.Add(new() { Value = AdvisoryLockKey });
            await acquire.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            reportStage("Applying migrations");
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<WorkforceDbContext>();
                await db.Database.MigrateAsync(cancellationToken);
            }
            // Migrations may have created types or tables the pooled connections have not seen yet.
            await lockConnection.ReloadTypesAsync(cancellationToken);
            await EnableStatementStatisticsAsync(lockConnection, cancellationToken);

            var options = seeding.Value;
            reportStage($"Seeding (seed {options.Seed}, scale {options.Scale:N0})");
            var lastReported = -10.0;
            var progress = new SynchronousProgress<SeedProgress>(p =>
            {
                if (p.Percent - lastReported >= 10 || p.RowsDone == p.RowsTotal)
                {
                    lastReported = p.Percent;
                    LogSeedProgress(p.Percent, p.RowsDone, p.RowsTotal, p.RowsPerSecond, p.Table);
                }
                reportStage($"Seeding: {p.Percent:0}% ({p.RowsDone:N0} of {p.RowsTotal:N0} rows, {p.RowsPerSecond:N0} rows/s)");
            });
            var outcome = await seeder.SeedAsync(options, progress, cancellationToken);
            LogOutcome(outcome.Result, outcome.Marker?.Seed, outcome.Marker?.Scale, outcome.Marker?.Rows, outcome.Marker?.DurationMs);
            return outcome;
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", lockConnection);
            release.Parameters.Add(new() { Value = AdvisoryLockKey });
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// The profiling extensions where the server has them: pg_stat_statements (server-wide statements), pg_qualstats
    /// (predicates, for index candidates) and hypopg (hypothetical indexes, to verify advice). Without them the
    /// profiler and the advisor say what is missing instead of failing.
    /// </summary>
    private async Task EnableStatementStatisticsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        foreach (var extension in (string[])["pg_stat_statements", "pg_qualstats", "hypopg"])
        {
            try
            {
                // Extension names are the constants above, never input.
                await using var create = new NpgsqlCommand($"CREATE EXTENSION IF NOT EXISTS {extension}", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException ex)
            {
                LogExtensionUnavailable(extension, ex.MessageText);
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "PostgreSQL extension {Extension} is not available ({Message}); the profiler reports what it cannot do without it")]
    private partial void LogExtensionUnavailable(string extension, string message);

    // Progress<T> posts to the thread pool, so reports could arrive after the seeding finished; this one does not.
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    [LoggerMessage(LogLevel.Information, "Seeding {Percent:0}% ({Done} of {Total} rows, {RowsPerSecond:0} rows/s, now {Table})")]
    private partial void LogSeedProgress(double percent, long done, long total, double rowsPerSecond, string table);

    [LoggerMessage(LogLevel.Information, "Workforce database ready: {Result} (seed {Seed}, scale {Scale}, {Rows} rows, seeded in {DurationMs:0} ms)")]
    private partial void LogOutcome(SeedResult result, int? seed, int? scale, long? rows, double? durationMs);
}
