using System.Collections.Concurrent;
using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;

namespace AspirePerf.Workforce.Queries;

/// <summary>The body of <c>GET /api/v1/queries/{id}</c>, as the API serves it and as the cache holds it.</summary>
public sealed record QueryResponse(
    string QueryId,
    string Title,
    IReadOnlyDictionary<string, object?> Parameters,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<object?[]> Rows,
    int RowCount,
    bool Truncated,
    double ExecutionMs);

/// <summary>
/// How a registered query's answer is cached: key, profile, tags and body. Shared by the API (which serves it) and
/// the Worker's cache-warm job (which pre-computes it), so both write and read the very same entry.
/// </summary>
public static class QueryResponseCache
{
    public const string JsonContentType = "application/json; charset=utf-8";

    // A query's tags never change: built once per query, not on every request.
    private static readonly ConcurrentDictionary<string, string[]> Tags = new(StringComparer.Ordinal);

    public static CacheRequest Request(AdaptiveCache cache, QueryDefinition query, BoundParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        return new CacheRequest(cache.KeyFor(query.Id, parameters.Values), query.CacheProfile, query.Id,
            Tags.GetOrAdd(query.Id, static (_, q) => [.. q.Tables.Select(t => "table:" + t), "query:" + q.Id], query));
    }

    /// <summary>Runs the query and serializes its response (the API's JSON options: web defaults unless configured).</summary>
    public static async Task<CachedPayload> ComputeAsync(QueryExecutor executor, QueryDefinition query, BoundParameters parameters,
        JsonSerializerOptions json, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(time);
        var result = await executor.ExecuteAsync(query, parameters, cancellationToken);
        var response = new QueryResponse(query.Id, query.Title, parameters.Values, result.Columns, result.Rows,
            result.RowCount, result.Truncated, Math.Round(result.ExecutionMs, 2));
        var body = JsonSerializer.SerializeToUtf8Bytes(response, json);
        return new CachedPayload(body, JsonContentType, result.ExecutionMs, time.GetUtcNow());
    }
}
