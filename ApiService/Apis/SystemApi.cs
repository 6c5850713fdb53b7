using Microsoft.AspNetCore.RateLimiting;
using AspirePerf.ApiService.Http;
using AspirePerf.ApiService.OpenApi;
using AspirePerf.Workforce.Seeding;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspirePerf.ApiService.Apis;

/// <summary>System status as the operator dashboard shows it: one row per resource of the topology.</summary>
public static class SystemApi
{
    public static RouteGroupBuilder MapSystemApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/system").WithTags("System");
        // Live state: never stored. (The constant body stays filter-free: it is the benchmarks' ceiling.)
        api.MapGet("/resources", GetResourcesAsync).WithNoStore().RequireRateLimiting(RateLimitOptions.Reads)
            .WithName("GetResourceHealth")
            .WithSummary("Live health of every resource")
            .WithDescription("Runs the API's own health checks (PostgreSQL, Redis) and asks the worker for its /health.");
        api.MapGet("/workload", GetWorkloadAsync).WithNoStore().RequireRateLimiting(RateLimitOptions.Reads)
            .WithName("GetWorkload")
            .WithSummary("What the workforce database was seeded with")
            .WithDescription("Seed, scale, rows and seeding time from the seed marker; 404 when the database was never seeded.")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "The database has no seed marker: the worker has not seeded it (or seeding is disabled).");
        api.MapGet("/constant", GetConstant)
            .WithName("GetConstantJson")
            .WithSummary("A constant JSON document of the requested size")
            .WithDescription("Calibration: the fastest answer this host can give for a body of that size (no database, no cache). " +
                "Benchmarks compare cached answers against it.")
            .ProducesFor(StatusCodes.Status200OK, "`{\"padding\":\"xxx…\"}`, exactly `bytes` long.", typeof(ConstantBody), "application/json");
        return api;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte[]> ConstantBodies = new();

    public static Results<FileContentHttpResult, ValidationProblem> GetConstant(int bytes = 1024)
    {
        if (bytes is < 16 or > 1_048_576)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["bytes"] = ["Must be between 16 and 1048576."] });
        }
        // One body per size: {"padding":"xxxx…"} exactly `bytes` long.
        var body = ConstantBodies.GetOrAdd(bytes, n => System.Text.Encoding.UTF8.GetBytes("{\"padding\":\"" + new string('x', n - 14) + "\"}"));
        return TypedResults.Bytes(body, "application/json; charset=utf-8");
    }

    public static async Task<Results<Ok<WorkloadInfo>, ProblemHttpResult>> GetWorkloadAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var marker = await WorkforceSeeder.ReadMarkerAsync(dataSource, cancellationToken);
        if (marker is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not seeded",
                detail: "The workforce database has no seed marker: the worker has not seeded it (or seeding is disabled).");
        }
        return TypedResults.Ok(new WorkloadInfo(marker.Seed, marker.Scale, marker.Version, marker.Rows, Math.Round(marker.DurationMs, 1),
            Math.Round(marker.Rows / (marker.DurationMs / 1000), 0), marker.Checksum, marker.SeededAt));
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
            FromChecks("postgres", "database", report, PostgresChecks),
            FromChecks("cache", "cache", report, CacheChecks),
            new("apiservice", "project", report.Status.ToString(), Math.Round(report.TotalDuration.TotalMilliseconds, 2),
                report.Status == HealthStatus.Healthy ? "All checks pass." : "Some checks fail; see the other rows."),
            workerHealth,
        };
        return TypedResults.Ok(new SystemHealth(time.GetUtcNow(), resources));
    }

    // Aspire's client integrations register their checks by name, without tags: Aspire.Npgsql "PostgreSql", the EF Core
    // integration the context's type name, Aspire.StackExchange.Redis "StackExchange.Redis".
    internal static readonly string[] PostgresChecks = ["PostgreSql", nameof(Workforce.Data.WorkforceDbContext)];
    internal static readonly string[] CacheChecks = ["StackExchange.Redis"];

    /// <summary>One resource's row from its checks' entries (the worst status, the first failing check's description).</summary>
    internal static ResourceHealth FromChecks(string resource, string kind, HealthReport report, IReadOnlyList<string> checks)
    {
        var entries = report.Entries.Where(e => checks.Contains(e.Key)).ToList();
        if (entries.Count == 0)
        {
            return new(resource, kind, HealthStatus.Unhealthy.ToString(), 0, $"No health check is registered for {resource} ({string.Join(", ", checks)}).");
        }
        var worst = entries.Min(e => e.Value.Status);
        var failing = entries.FirstOrDefault(e => e.Value.Status != HealthStatus.Healthy);
        var description = failing.Key is null
            ? $"{string.Join(", ", entries.Select(e => e.Key))}: healthy"
            : $"{failing.Key}: {failing.Value.Description ?? failing.Value.Exception?.Message ?? failing.Value.Status.ToString()}";
        return new(resource, kind, worst.ToString(), Math.Round(entries.Max(e => e.Value.Duration.TotalMilliseconds), 2), description);
    }
}

/// <summary>The constant body's shape, for the document: one string member padding it to the requested size.</summary>
public sealed record ConstantBody(string Padding);

public sealed record WorkloadInfo(int Seed, int Scale, int Version, long Rows, double SeedingMs, double RowsPerSecond, string Checksum, DateTimeOffset SeededAt);

public sealed record SystemHealth(DateTimeOffset CheckedAt, IReadOnlyList<ResourceHealth> Resources);

public sealed record ResourceHealth(string Name, string Kind, string Status, double DurationMs, string? Description);
