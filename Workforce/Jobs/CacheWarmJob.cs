using System.Diagnostics;
using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.Workforce.Queries;

namespace AspirePerf.Workforce.Jobs;

/// <summary>
/// Payload of the <c>cache-warm</c> job: which registered queries to pre-compute with their default parameters
/// (what the dashboard and the query explorer ask first). Null: every aggregate query whose parameters all have
/// defaults or are optional.
/// </summary>
public sealed record CacheWarmJob
{
    public const string TypeName = "cache-warm";

    public IReadOnlyList<string>? QueryIds { get; init; }

    public static Dictionary<string, string[]> Validate(CacheWarmJob job, QueryRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(registry);
        var unknown = (job.QueryIds ?? []).Where(id => registry.Find(id) is null).ToList();
        return unknown.Count == 0 ? [] : new() { ["queryIds"] = [$"Unknown query ids: {string.Join(", ", unknown)}."] };
    }
}

/// <summary>
/// Cached: now in the cache (computed and admitted, or already there). NotAdmitted: computed, but the cache's
/// admission policy declined it (e.g. cheaper to recompute than to fetch). Skipped: a parameter without a default.
/// </summary>
public sealed record CacheWarmResult(IReadOnlyList<string> Cached, IReadOnlyList<string> NotAdmitted, IReadOnlyList<string> Skipped, double ElapsedMs);

/// <summary>
/// Puts each query's default answer into the shared cache unless it is there, under the same key and body the API
/// uses, so the API's next request is an L2 hit at worst. An entry already cached is left to its TTL (the cache's
/// forced recompute bypasses the cache rather than refreshing it).
/// </summary>
public sealed class CacheWarmJobHandler(QueryRegistry registry, QueryExecutor executor, QueryCursors cursors, AdaptiveCache cache, TimeProvider time) : IJobHandler<CacheWarmJob>
{
    public async Task HandleAsync(JobContext<CacheWarmJob> job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var queries = job.Payload.QueryIds is { } ids
            ? [.. ids.Select(id => registry.Find(id) ?? throw new JobDiscardException($"Unknown query id '{id}'."))]
            : registry.All.Where(q => q.Kind == QueryKind.Aggregate).ToList();
        var cached = new List<string>();
        var notAdmitted = new List<string>();
        var skipped = new List<string>();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < queries.Count; i++)
        {
            var query = queries[i];
            var (parameters, errors) = QueryParameterBinder.Bind(query, []);
            if (parameters is null || errors.Count > 0)
            {
                skipped.Add(query.Id); // needs a parameter that has no default
                continue;
            }
            var page = executor.FirstPage(query);
            // "Cached" promises the API an L2 hit at worst: wait for the Redis write, which a miss otherwise leaves to the background.
            var lookup = await cache.GetOrCreateAsync(QueryResponseCache.Request(cache, query, parameters, page),
                ct => QueryResponseCache.ComputeAsync(executor, cursors, query, parameters, page, JsonSerializerOptions.Web, time, ct),
                CacheCallOptions.AwaitRedisWrite, cancellationToken);
            (lookup.Outcome == CacheOutcome.Hit || lookup.Ttl is not null ? cached : notAdmitted).Add(query.Id);
            await job.ReportProgressAsync((i + 1) * 100 / queries.Count, $"{query.Id} ({i + 1} of {queries.Count})", cancellationToken);
        }
        job.Result = new CacheWarmResult(cached, notAdmitted, skipped, Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1));
    }
}
