using System.Collections.Concurrent;
using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;

namespace AspirePerf.Workforce.Queries;

/// <summary>
/// The body of <c>GET /api/v1/queries/{id}</c>, as the API serves it and as the cache holds it. It holds the data only:
/// what computing it cost travels in <c>X-Exec-Time</c>, so an answer recomputed with the same rows has the same bytes,
/// and the same entity tag (a client's revalidation still gets its 304).
/// </summary>
/// <param name="NextCursor">For a listing: the cursor of the page after this one; null on the last page and for aggregates.</param>
public sealed record QueryResponse(
    string QueryId,
    string Title,
    IReadOnlyDictionary<string, object?> Parameters,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<object?[]> Rows,
    int RowCount,
    string? NextCursor);

/// <summary>
/// How a registered query's answer is cached: key, profile, tags and body. Shared by the API (which serves it) and
/// the Worker's cache-warm job (which pre-computes it), so both write and read the very same entry.
/// </summary>
public static class QueryResponseCache
{
    public const string JsonContentType = "application/json; charset=utf-8";

    // A query's tags never change: built once per query, not on every request.
    private static readonly ConcurrentDictionary<string, string[]> Tags = new(StringComparer.Ordinal);

    /// <param name="page">A listing's page (its position and size are part of the key); null for an aggregate.</param>
    public static CacheRequest Request(AdaptiveCache cache, QueryDefinition query, BoundParameters parameters, QueryPage? page = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        var key = page is null ? cache.KeyFor(query.Id, parameters.Values)
            : cache.KeyFor(query.Id, [.. parameters.Values, new("page.after", page.After), new("page.limit", (long)page.Limit)]);
        return new CacheRequest(key, query.CacheProfile, query.Id,
            Tags.GetOrAdd(query.Id, static (_, q) => [.. q.Tables.Select(t => "table:" + t), "query:" + q.Id], query));
    }

    /// <summary>Runs the query and serializes its response (the API's JSON options: web defaults unless configured).</summary>
    public static async Task<CachedPayload> ComputeAsync(QueryExecutor executor, QueryCursors cursors, QueryDefinition query,
        BoundParameters parameters, QueryPage? page, JsonSerializerOptions json, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(cursors);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(time);
        // The value is dated by when reading began: an invalidation after this instant may not be reflected in it.
        var startedAt = time.GetUtcNow();
        var result = await executor.ExecuteAsync(query, parameters, page, cancellationToken);
        return Payload(result, cursors, query, parameters, json, startedAt);
    }

    /// <summary>
    /// The cached body of a result computed at <paramref name="startedAt"/>: the data only, nothing about how it was
    /// computed (time, parallel workers), so the same rows make the same bytes.
    /// </summary>
    public static CachedPayload Payload(QueryResult result, QueryCursors cursors, QueryDefinition query, BoundParameters parameters,
        JsonSerializerOptions json, DateTimeOffset startedAt)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(cursors);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        var next = result.NextAfter is { } after ? cursors.Create(query, parameters, after) : null;
        var response = new QueryResponse(query.Id, query.Title, parameters.Values, result.Columns, result.Rows,
            result.RowCount, next);
        var body = JsonSerializer.SerializeToUtf8Bytes(response, json);
        return new CachedPayload(body, JsonContentType, result.ExecutionMs, startedAt, next);
    }
}
