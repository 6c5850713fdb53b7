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

    public async Task<QueryStepResult> RunAsync(QueryDefinition query, IReadOnlyDictionary<string, string> inputs, bool bypassCache, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var parameters = AnalysisGraph.BindQuery(query, inputs);
        Task<CachedPayload> Compute(CancellationToken ct) =>
            QueryResponseCache.ComputeAsync(executor, cursors, query, parameters, page: null, JsonSerializerOptions.Web, time, ct);
        if (bypassCache)
        {
            return new QueryStepResult(Read(await Compute(cancellationToken)), "bypass");
        }
        var lookup = await cache.GetOrCreateAsync(QueryResponseCache.Request(cache, query, parameters), Compute, cancellationToken);
        return new QueryStepResult(Read(lookup.Payload), lookup.Outcome.ToString().ToLowerInvariant());
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
