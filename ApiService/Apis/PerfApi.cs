using Microsoft.AspNetCore.RateLimiting;
using AspirePerf.ApiService.Http;
using AspirePerf.ApiService.OpenApi;
using AspirePerf.ApiService.Authentication;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database;
using AspirePerf.Performance.Profiling;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspirePerf.ApiService.Apis;

/// <summary>The performance layer's operator surface: cache, profiling, slow queries and index advice.</summary>
public static class PerfApi
{
    public static RouteGroupBuilder MapPerfApi(this IEndpointRouteBuilder app)
    {
        // Reads need the reader policy (anonymous unless configured otherwise); changes add the Operator policy.
        var api = app.MapGroup("/api/v1/perf").WithTags("Performance").RequireReaders(app).WithNoStore().RequireRateLimiting(RateLimitOptions.Perf);
        api.MapPerfDashboard();
        api.MapGet("/cache", GetCacheStatistics)
            .WithName("GetCacheStatistics")
            .WithSummary("Cache statistics: hit ratio overall and per profile, L1 entries and bytes, cost saved");
        api.MapGet("/compression", (CompressionStatistics statistics, Microsoft.Extensions.Options.IOptions<CompressionOptions> options) =>
                TypedResults.Ok(new CompressionReport(options.Value.Enabled, options.Value.MinBytes, options.Value.MimeTypes, statistics.Snapshot())))
            .WithName("GetCompressionStatistics")
            .WithSummary("Response compression since start: responses and bytes before and after, by encoding (br, gzip) and source " +
                "(dynamic: compressed for the response; cached: a cached answer's stored compressed form)");
        api.MapGet("/statements", GetServerStatementsAsync)
            .WithName("GetServerStatements")
            .WithSummary("Top statements of this database from pg_stat_statements, or why it is not enabled")
            .WithDescription("orderBy: total (default), mean or calls; limit: 1 to 500 (default 20).");
        api.MapGet("/endpoints", GetEndpoints)
            .WithName("GetEndpointStatistics")
            .WithSummary("Per-endpoint count, error rate, p50/p90/p95/p99 and SQL commands per request over the last minute");
        api.MapGet("/endpoints/slowest", GetSlowestEndpoints)
            .WithName("GetSlowestEndpoints")
            .WithSummary("Endpoints ranked by p95 over the last minute (limit 1 to 100, default 10)");
        api.MapGet("/insights", GetInsights)
            .WithName("GetInsights")
            .WithSummary("What deserves attention: slow endpoints, chatty endpoints, N+1 findings, low cache hit ratios");
        api.MapGet("/requests/{traceId}", GetRequestProfile)
            .WithName("GetRequestProfile")
            .WithSummary("One recent request's profile: route, status, duration, every SQL command (fingerprint, duration), N+1 findings")
            .WithDescription("The trace id is the W3C trace id; every response carries it in X-Trace-Id.")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No recent request has this trace id (only the last Profiling:RecentRequests are kept).");
        api.MapGet("/findings", GetFindings)
            .WithName("GetFindings")
            .WithSummary("Recent N+1 findings: one SQL fingerprint repeated at least Profiling:NPlusOneThreshold times in one request");
        api.MapGet("/profiling", (RequestProfiler profiler) => TypedResults.Ok(new ProfilingState(profiler.Enabled)))
            .WithName("GetProfilingState")
            .WithSummary("Whether request profiling is on");
        api.MapPut("/profiling", (ProfilingState state, RequestProfiler profiler) =>
            {
                profiler.Override(state.Enabled);
                return TypedResults.Ok(new ProfilingState(profiler.Enabled));
            })
            .RequireAuthorization(ApiPolicies.Operator)
            .RequireRateLimiting(RateLimitOptions.Operator)
            .WithAudit()
            .WithName("SetProfilingState")
            .WithRequestExample("""{"enabled":true}""")
            .WithSummary("Switch request profiling on or off at run time (until restart)");
        api.MapGet("/queries/slow", GetSlowQueries)
            .WithName("GetSlowQueries")
            .WithSummary("SQL statements slower than Profiling:SlowQueryThresholdMs, by fingerprint, values redacted, slowest first (limit 1 to 500)");
        api.MapGet("/queries/{fingerprint}/plan", GetSlowQueryPlan)
            .WithName("GetSlowQueryPlan")
            .WithSummary("The EXPLAIN (FORMAT JSON) plan of a slow statement, captured in the background (status pending until then)")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No statement with this fingerprint is in the slow-query log.");
        api.MapGet("/indexes/advice", (IndexAdvisor advisor, CancellationToken cancellationToken) => advisor.AdviseAsync(cancellationToken))
            .WithName("GetIndexAdvice")
            .WithSummary("Indexes for the workload (pg_stat_statements and the slow-query log), verified with hypopg, ranked by time saved")
            .WithDescription("Each advice has its CREATE INDEX CONCURRENTLY statement, estimated improvement and size; every statement considered has a verdict.");
        api.MapPost("/indexes/apply", ApplyIndexAsync)
            .RequireAuthorization(ApiPolicies.Operator)
            .RequireRateLimiting(RateLimitOptions.Operator)
            .WithAudit()
            .WithName("ApplyIndex")
            .WithRequestExample("""{"index":"ix_employment_spells_employer_id"}""")
            .WithSummary("Build one advised index concurrently, then re-run the statements it serves and report their times before and after")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "The index is not in the current advice (GET /api/v1/perf/indexes/advice first).")
            .ProducesProblemFor(StatusCodes.Status409Conflict, "The index could not be built (it exists already, or PostgreSQL refused it).");
        api.MapPost("/cache/invalidate", InvalidateAsync)
            .RequireAuthorization(ApiPolicies.Operator)
            .RequireRateLimiting(RateLimitOptions.Operator)
            .WithAudit()
            .WithName("InvalidateCache")
            .WithRequestExample("""{"tag":"table:employment_spells"}""")
            .WithSummary("Invalidate one key, one tag (e.g. table:employment_spells) or everything, on every node");
        return api;
    }

    public static async Task<Results<Ok<ServerStatementsReport>, ValidationProblem>> GetServerStatementsAsync(
        ServerStatements statements, CancellationToken cancellationToken, string? orderBy = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        StatementOrder? order = (orderBy ?? "total").ToLowerInvariant() switch
        {
            "total" => StatementOrder.TotalTime,
            "mean" => StatementOrder.MeanTime,
            "calls" => StatementOrder.Calls,
            _ => null,
        };
        if (order is null)
        {
            errors["orderBy"] = ["Must be one of: total, mean, calls."];
        }
        if (limit is < 1 or > 500)
        {
            errors["limit"] = ["Must be between 1 and 500."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "Invalid statement statistics request");
        }
        return TypedResults.Ok(await statements.TopAsync(order!.Value, limit ?? 20, cancellationToken));
    }

    public static Results<Ok<RequestProfile>, ProblemHttpResult> GetRequestProfile(string traceId, RequestProfiler profiler) =>
        profiler.Find(traceId) is { } profile
            ? TypedResults.Ok(profile)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown request",
                detail: $"No recent request has the trace id '{(traceId.Length > 64 ? traceId[..64] : traceId)}' (only the last Profiling:RecentRequests are kept).");

    public static Ok<EndpointStatisticsReport> GetEndpoints(EndpointStatistics statistics) =>
        TypedResults.Ok(new EndpointStatisticsReport(EndpointStatistics.Window.TotalSeconds, statistics.Snapshot()));

    public static Results<Ok<EndpointStatisticsReport>, ValidationProblem> GetSlowestEndpoints(EndpointStatistics statistics, int limit = 10)
    {
        if (limit is < 1 or > 100)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["Must be between 1 and 100."] });
        }
        return TypedResults.Ok(new EndpointStatisticsReport(EndpointStatistics.Window.TotalSeconds,
            [.. statistics.Snapshot().OrderByDescending(e => e.P95Ms).ThenBy(e => e.Route, StringComparer.Ordinal).Take(limit)]));
    }

    public static Ok<IReadOnlyList<Insight>> GetInsights(EndpointStatistics endpoints, RequestProfiler profiler, AdaptiveCache cache,
        Microsoft.Extensions.Options.IOptionsMonitor<ProfilingOptions> options)
    {
        var settings = options.CurrentValue;
        var insights = new List<Insight>();
        foreach (var e in endpoints.Snapshot())
        {
            if (e.P95Ms > settings.SlowEndpointMs)
            {
                insights.Add(new("slow-endpoint", e.Route, $"p95 {e.P95Ms:0.#} ms over the last minute (threshold {settings.SlowEndpointMs} ms), {e.Count} requests."));
            }
            if (e.SqlCommandsPerRequest > settings.ChattySqlCommandsPerRequest)
            {
                insights.Add(new("chatty-endpoint", e.Route, $"{e.SqlCommandsPerRequest:0.#} SQL commands per request on average (threshold {settings.ChattySqlCommandsPerRequest})."));
            }
        }
        foreach (var group in profiler.Findings().GroupBy(f => (f.Route, f.Fingerprint)))
        {
            insights.Add(new("n-plus-one", group.Key.Route, $"{group.Count()} recent requests ran `{group.First().Sql}` {group.Max(f => f.Count)} times or more."));
        }
        foreach (var profile in cache.Statistics().Profiles.Where(p => p.L1Hits + p.L2Hits + p.Misses >= 20 && p.HitRatio < 0.5))
        {
            insights.Add(new("low-cache-hit-ratio", profile.Profile, $"Hit ratio {profile.HitRatio:P0} over {profile.L1Hits + profile.L2Hits + profile.Misses} lookups: parameters vary too much, or TTLs are too short."));
        }
        return TypedResults.Ok<IReadOnlyList<Insight>>(insights);
    }

    public static Results<Ok<IReadOnlyList<SlowQuery>>, ValidationProblem> GetSlowQueries(SlowQueryLog log, int limit = 50)
    {
        if (limit is < 1 or > 500)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["Must be between 1 and 500."] });
        }
        return TypedResults.Ok<IReadOnlyList<SlowQuery>>([.. log.Snapshot().OrderByDescending(q => q.MaxMs).Take(limit)]);
    }

    public static Results<Ok<SlowQueryPlan>, ValidationProblem, ProblemHttpResult> GetSlowQueryPlan(string fingerprint, SlowQueryLog log)
    {
        if (fingerprint.Length != 16 || !fingerprint.All(char.IsAsciiHexDigitLower))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["fingerprint"] = ["Must be 16 lower-case hexadecimal digits, as listed by /api/v1/perf/queries/slow."] });
        }
        return log.Plan(fingerprint) is { } plan
            ? TypedResults.Ok(plan)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown slow statement",
                detail: $"No statement with fingerprint '{fingerprint}' is in the slow-query log.");
    }

    public static async Task<Results<Ok<IndexApplyResult>, ValidationProblem, ProblemHttpResult>> ApplyIndexAsync(
        IndexApplyRequest request, IndexAdvisor advisor, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Index) || request.Index.Length > 63)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["index"] = ["Give the name of an advised index (1 to 63 characters), as listed by /api/v1/perf/indexes/advice."] });
        }
        try
        {
            return await advisor.ApplyAsync(request.Index, cancellationToken) is { } result
                ? TypedResults.Ok(result)
                : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not advised",
                    detail: $"'{request.Index}' is not in the current index advice; get /api/v1/perf/indexes/advice first.");
        }
        catch (Exception ex) when (ex is InvalidOperationException or Npgsql.PostgresException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Index build failed", detail: ex.Message);
        }
    }

    public static Ok<IReadOnlyList<NPlusOneFinding>> GetFindings(RequestProfiler profiler) => TypedResults.Ok(profiler.Findings());

    public static Ok<CacheStatisticsSnapshot> GetCacheStatistics(AdaptiveCache cache) => TypedResults.Ok(cache.Statistics());

    public static async Task<Results<Ok<InvalidationResult>, ValidationProblem>> InvalidateAsync(
        InvalidationRequest request, AdaptiveCache cache, CancellationToken cancellationToken)
    {
        var given = new[] { request.Key is not null, request.Tag is not null, request.All == true }.Count(x => x);
        if (given != 1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["request"] = ["Give exactly one of 'key', 'tag' or 'all': true."],
            }, title: "Invalid invalidation request");
        }
        if (request.Key is { } key)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > 512)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["key"] = ["Must be 1 to 512 characters."] });
            }
            await cache.InvalidateKeyAsync(key, cancellationToken);
            return TypedResults.Ok(new InvalidationResult("key", key));
        }
        if (request.Tag is { } tag)
        {
            if (string.IsNullOrWhiteSpace(tag) || tag.Length > 200 || tag == "*")
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["tag"] = ["Must be 1 to 200 characters and not '*' (use all)."] });
            }
            await cache.InvalidateTagAsync(tag, cancellationToken);
            return TypedResults.Ok(new InvalidationResult("tag", tag));
        }
        await cache.InvalidateAllAsync(cancellationToken);
        return TypedResults.Ok(new InvalidationResult("all", "*"));
    }
}

/// <summary>Exactly one of the three: each is optional on its own, so the document does not mark any of them required.</summary>
public sealed record InvalidationRequest(string? Key = null, string? Tag = null, bool? All = null);

public sealed record InvalidationResult(string Kind, string Value);

public sealed record EndpointStatisticsReport(double WindowSeconds, IReadOnlyList<EndpointStatisticsEntry> Endpoints);

public sealed record Insight(string Kind, string Subject, string Detail);

public sealed record ProfilingState(bool Enabled);

public sealed record IndexApplyRequest(string? Index);

public sealed record CompressionReport(bool Enabled, int MinBytes, IReadOnlyList<string> MimeTypes, IReadOnlyList<CompressionStatisticsRow> Encodings);
