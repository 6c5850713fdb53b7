using AspirePerf.Performance.Auditing;
using AspirePerf.Performance.Jobs;
using AspirePerf.Workforce.Data;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace AspirePerf.Worker.Startup;

/// <summary>What the initializer has done so far; read by the health check so the API waits for it.</summary>
public sealed class DatabaseInitializationState
{
    private volatile string _stage = "Waiting for PostgreSQL";
    private volatile bool _completed;

    public string Stage => _stage;
    public bool Completed => _completed;

    public void Report(string stage) => _stage = stage;

    public void Complete(string summary)
    {
        _stage = summary;
        _completed = true;
    }
}

/// <summary>Unhealthy (503) until migrations and seeding are done, so nothing that waits on the worker starts early.</summary>
public sealed class DatabaseInitializationHealthCheck(DatabaseInitializationState state) : IHealthCheck
{
    public const string Name = "database-initialization";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.Completed ? HealthCheckResult.Healthy(state.Stage) : HealthCheckResult.Unhealthy(state.Stage));
}

/// <summary>
/// Migrates and seeds the workforce database, then migrates the job queue's and the audit trail's schemas, at start, retrying until
/// PostgreSQL accepts connections.
/// </summary>
public sealed partial class DatabaseInitializer(
    WorkforceDatabaseInitializer initializer,
    NpgsqlDataSource dataSource,
    DatabaseInitializationState state,
    TimeProvider time,
    ILogger<DatabaseInitializer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var outcome = await initializer.InitializeAsync(state.Report, stoppingToken);
                state.Report("Migrating the job queue schema");
                await JobSchema.MigrateAsync(dataSource, stoppingToken);
                state.Report("Migrating the audit trail's schema");
                await AuditSchema.MigrateAsync(dataSource, stoppingToken);
                state.Complete(outcome.Marker is { } marker
                    ? $"Database ready: {outcome.Result} (seed {marker.Seed}, scale {marker.Scale:N0}, {marker.Rows:N0} rows)."
                    : $"Database ready: {outcome.Result}.");
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                attempt++;
                state.Report($"Initialization attempt {attempt} failed: {ex.Message}");
                LogAttemptFailed(ex, attempt);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), time, stoppingToken);
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Database initialization attempt {Attempt} failed; retrying")]
    private partial void LogAttemptFailed(Exception ex, int attempt);
}
