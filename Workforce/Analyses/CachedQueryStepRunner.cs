using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Queries;

namespace AspirePerf.Workforce.Analyses;

/// <summary>
/// In-process mode: a query step is the query API's own request (same binding, same cache key and body), answered by
/// the adaptive cache, so a step shares its entry with <c>GET /api/v1/queries/{id}</c> and the cache-warm job. The
/// output is read back from the cached JSON body whether it was computed now or not, so every mode sees the same values.
/// </summary>
public sealed class CachedQueryStepRunner(QueryExecutor executor, QueryCursors cursors, AdaptiveCache cache, TimeProvider time) : IQueryStepRunner
{
    public string Mode => "in-process";

    /// <remarks>
    /// <paramref name="parallelism"/> applies when the query runs here (a miss or a bypass): it caps the query's
    /// PostgreSQL parallel workers in its own transaction. The cached body holds the rows only, never the setting.
    /// </remarks>
    public async Task<QueryStepResult> RunAsync(QueryDefinition query, IReadOnlyDictionary<string, string> inputs, bool bypassCache,
        QueryParallelism? parallelism, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var parameters = AnalysisGraph.BindQuery(query, inputs);
        int? workers = null;
        async Task<CachedPayload> Compute(CancellationToken ct)
        {
            // The value is dated by when reading began (as QueryResponseCache.ComputeAsync dates it).
            var startedAt = time.GetUtcNow();
            var result = await executor.ExecuteAsync(query, parameters, page: null, parallelism, ct);
            workers = result.ParallelWorkersPerGather;
            return QueryResponseCache.Payload(result, cursors, query, parameters, JsonSerializerOptions.Web, startedAt);
        }
        if (bypassCache)
        {
            return new QueryStepResult(Read(await Compute(cancellationToken)), "bypass", workers);
        }
        var lookup = await cache.GetOrCreateAsync(QueryResponseCache.Request(cache, query, parameters), Compute, cancellationToken);
        return new QueryStepResult(Read(lookup.Payload), lookup.Outcome.ToString().ToLowerInvariant(), workers);
    }

    private static StepOutput Read(CachedPayload payload)
    {
        using var body = JsonDocument.Parse(payload.Body);
        var columns = body.RootElement.GetProperty("columns").Deserialize<QueryColumn[]>(JsonSerializerOptions.Web)!;
        var rows = body.RootElement.GetProperty("rows").EnumerateArray()
            .Select(row => (IReadOnlyList<object?>)[.. row.EnumerateArray().Select(v => (object?)v.Clone())]);
        return StepOutput.From(columns, rows);
    }
}
