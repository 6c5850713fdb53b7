using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database;
using AspirePerf.Performance.Health;
using AspirePerf.Performance.Jobs;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Performance.Profiling;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace AspirePerf.ApiService.Apis;

/// <summary>
/// <c>GET /api/v1/perf/dashboard</c>: reads every signal where it already lives (resource health as
/// <c>/system/resources</c> reads it, each resource within its budget, endpoint statistics, N+1 findings, cache statistics, the Redis circuit, one small
/// job-queue statement, Npgsql's pool gauges, recent analysis outcomes, the slow-query log) and lets
/// <see cref="StatusEvaluator"/> judge them. A dependency that fails or exceeds PerfDashboard:DependencyTimeout
/// becomes a critical reason: the one shared poller of the console must always get an answer.
/// </summary>
public static class PerfDashboardApi
{
    public static RouteHandlerBuilder MapPerfDashboard(this RouteGroupBuilder perf) =>
        perf.MapGet("/dashboard", GetAsync)
            .WithName("GetPerfDashboard")
            .WithSummary("Overall status (healthy, warning, critical) with the reasons behind it, each linked to the console page that explains it, and key figures")
            .WithDescription("Status is the worst reason's severity; reasons are ordered critical first. Reason codes: " +
                string.Join(", ", StatusEvaluator.Codes.Select(c => $"`{c}`")) + ". Thresholds: configuration section PerfDashboard. " +
                "Cheap enough to poll every few seconds; a failing dependency (database, Redis, worker) is a critical reason, never a 5xx.");

    public static async Task<Ok<StatusReport>> GetAsync(
        HealthCheckService healthChecks,
        WorkerHealthClient worker,
        EndpointStatistics endpoints,
        RequestProfiler profiler,
        AdaptiveCache cache,
        SlowQueryLog slowQueries,
        PostgresJobQueue jobs,
        NpgsqlPoolUsage pool,
        OrchestrationTelemetry analyses,
        IServiceProvider services,
        IOptionsMonitor<PerfDashboardOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var now = time.GetUtcNow();
        // Every dependency is asked at once, each within the budget.
        var resourcesTask = ReadResourcesAsync(healthChecks, worker, settings.DependencyTimeout, cancellationToken);
        var jobsTask = ReadJobsAsync(jobs, now - settings.RecentWindow, settings.DependencyTimeout, cancellationToken);
        var resources = await resourcesTask;
        var (backlog, jobsError) = await jobsTask;

        var signals = new StatusSignals(
            now,
            resources,
            Circuit(services.GetService<IDistributedCache>()),
            endpoints.Snapshot(),
            endpoints.Total(),
            EndpointStatistics.Window.TotalSeconds,
            profiler.Findings(),
            cache.Statistics(),
            backlog,
            jobsError,
            pool.Read(AspirePerf.ApiService.Extensions.Extensions.WorkforceDatabase) is { } usage ? new PoolSignal(usage.Busy, usage.Max) : null,
            analyses.Recent.Counts(settings.RecentWindow),
            slowQueries.Snapshot());
        return TypedResults.Ok(StatusEvaluator.Evaluate(signals, settings));
    }

    /// <summary>
    /// The rows of <c>/system/resources</c> (same checks, same rows) but each resource within its own budget, so a hung
    /// Redis PING is reported as Redis, not as "health unknown" for everything. apiservice's row is not judged: it is
    /// the sum of the postgres and cache rows, and would count one failure twice.
    /// </summary>
    private static async Task<IReadOnlyList<ResourceSignal>> ReadResourcesAsync(HealthCheckService healthChecks, WorkerHealthClient worker,
        TimeSpan budget, CancellationToken cancellationToken)
    {
        var rows = await Task.WhenAll(
            WithinAsync("postgres", async token => SystemApi.FromChecks("postgres", "database",
                await healthChecks.CheckHealthAsync(r => SystemApi.PostgresChecks.Contains(r.Name), token), SystemApi.PostgresChecks), budget, cancellationToken),
            WithinAsync("cache", async token => SystemApi.FromChecks("cache", "cache",
                await healthChecks.CheckHealthAsync(r => SystemApi.CacheChecks.Contains(r.Name), token), SystemApi.CacheChecks), budget, cancellationToken),
            WithinAsync("worker", worker.GetAsync, budget, cancellationToken));
        return [.. rows.Select(r => new ResourceSignal(r.Name, r.Status, r.Description))];
    }

    private static async Task<ResourceHealth> WithinAsync(string resource, Func<CancellationToken, Task<ResourceHealth>> read, TimeSpan budget,
        CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        try
        {
            return await read(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(resource, "", "Unhealthy", budget.TotalMilliseconds,
                $"No answer within {budget.TotalSeconds:0.#} s (PerfDashboard:DependencyTimeout).");
        }
    }

    private static async Task<(JobBacklogSignal?, string?)> ReadJobsAsync(PostgresJobQueue jobs, DateTimeOffset since, TimeSpan budget,
        CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        try
        {
            var backlog = await jobs.BacklogAsync(since, timeout.Token);
            return (new JobBacklogSignal(backlog.Waiting, backlog.Running, backlog.OldestDueAt, backlog.Discarded), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"The job-queue statement did not answer within {budget.TotalSeconds:0.#} s (PerfDashboard:DependencyTimeout).");
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"The job-queue statement failed: {ex.Message}");
        }
    }

    private static RedisCircuit Circuit(IDistributedCache? cache) => cache is ResilientDistributedCache resilient
        ? resilient.CircuitState switch
        {
            CircuitState.Closed => RedisCircuit.Closed,
            CircuitState.HalfOpen => RedisCircuit.HalfOpen,
            _ => RedisCircuit.Open,
        }
        : RedisCircuit.Absent;
}
