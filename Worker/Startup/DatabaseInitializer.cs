using AspirePerf.Workforce.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

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

/// <summary>Unhealthy (503) until migrations are applied, so nothing that waits on the worker starts early.</summary>
public sealed class DatabaseInitializationHealthCheck(DatabaseInitializationState state) : IHealthCheck
{
    public const string Name = "database-initialization";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.Completed ? HealthCheckResult.Healthy(state.Stage) : HealthCheckResult.Unhealthy(state.Stage));
}

/// <summary>Applies EF migrations at start, retrying until PostgreSQL accepts connections.</summary>
public sealed partial class DatabaseInitializer(
    IServiceScopeFactory scopes,
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
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<WorkforceDbContext>();
                state.Report("Applying migrations");
                await db.Database.MigrateAsync(stoppingToken);
                var applied = (await db.Database.GetAppliedMigrationsAsync(stoppingToken)).Count();
                LogMigrated(applied);
                state.Complete($"Database ready ({applied} migrations applied).");
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

    [LoggerMessage(LogLevel.Information, "Database migrated: {Count} migrations applied")]
    private partial void LogMigrated(int count);

    [LoggerMessage(LogLevel.Warning, "Database initialization attempt {Attempt} failed; retrying")]
    private partial void LogAttemptFailed(Exception ex, int attempt);
}
