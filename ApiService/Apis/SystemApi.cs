using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspirePerf.ApiService.Apis;

/// <summary>System status as the operator dashboard shows it: one row per resource of the topology.</summary>
public static class SystemApi
{
    public static RouteGroupBuilder MapSystemApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/system").WithTags("System");
        api.MapGet("/resources", GetResourcesAsync)
            .WithName("GetResourceHealth")
            .WithSummary("Live health of every resource")
            .WithDescription("Runs the API's own health checks (PostgreSQL, Redis) and asks the worker for its /health.");
        return api;
    }

    public static async Task<Ok<SystemHealth>> GetResourcesAsync(
        HealthCheckService healthChecks,
        WorkerHealthClient worker,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var reportTask = healthChecks.CheckHealthAsync(cancellationToken);
        var workerTask = worker.GetAsync(cancellationToken);
        var report = await reportTask;
        var workerHealth = await workerTask;

        var resources = new List<ResourceHealth>
        {
            FromChecks("postgres", "database", report, "workforce"),
            FromChecks("cache", "cache", report, "cache"),
            new("apiservice", "project", report.Status.ToString(), Math.Round(report.TotalDuration.TotalMilliseconds, 2),
                report.Status == HealthStatus.Healthy ? "All checks pass." : "Some checks fail; see the other rows."),
            workerHealth,
        };
        return TypedResults.Ok(new SystemHealth(time.GetUtcNow(), resources));
    }

    private static ResourceHealth FromChecks(string resource, string kind, HealthReport report, string tag)
    {
        var entries = report.Entries.Where(e => e.Value.Tags.Contains(tag)).ToList();
        if (entries.Count == 0)
        {
            return new(resource, kind, HealthStatus.Unhealthy.ToString(), 0, $"No health check is registered for '{tag}'.");
        }
        var worst = entries.Min(e => e.Value.Status);
        var failing = entries.FirstOrDefault(e => e.Value.Status != HealthStatus.Healthy);
        var description = failing.Key is null
            ? $"{string.Join(", ", entries.Select(e => e.Key))}: healthy"
            : $"{failing.Key}: {failing.Value.Description ?? failing.Value.Exception?.Message ?? failing.Value.Status.ToString()}";
        return new(resource, kind, worst.ToString(), Math.Round(entries.Max(e => e.Value.Duration.TotalMilliseconds), 2), description);
    }
}

public sealed record SystemHealth(DateTimeOffset CheckedAt, IReadOnlyList<ResourceHealth> Resources);

public sealed record ResourceHealth(string Name, string Kind, string Status, double DurationMs, string? Description);
