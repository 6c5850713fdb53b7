using System.Collections.Concurrent;
using System.Text.Json;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Http;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace AspirePerf.ApiService.Apis;

/// <summary>
/// Everything <c>GET /api/v1/queries/{id}</c> needs, resolved once: a cached hit resolves one service per request, not
/// a dozen (each minimal-API service parameter is a lookup in the request's scope).
/// </summary>
public sealed class QueryEndpoint : IDisposable
{
    private readonly IDisposable? _cachingChange;

    public QueryEndpoint(QueryRegistry registry, QueryExecutor executor, QueryCursors cursors, AdaptiveCache cache,
        IOptions<JsonOptions> json, IOptions<ApiKeyOptions> keys, IOptions<QueryExecutionOptions> queryOptions,
        IOptions<CompressionOptions> compression, CompressionStatistics compressionStatistics, TimeProvider time,
        IOptionsMonitor<CachingOptions> caching)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(queryOptions);
        ArgumentNullException.ThrowIfNull(compression);
        ArgumentNullException.ThrowIfNull(caching);
        (Registry, Executor, Cursors, Cache, Time, CompressionStatistics) = (registry, executor, cursors, cache, time, compressionStatistics);
        Json = json.Value.SerializerOptions;
        ReadsArePrivate = keys.Value.RequireReaderForReads;
        QueryOptions = queryOptions.Value;
        Compression = compression.Value;
        // Memoized keys hold the cache namespace and schema version of their time.
        _cachingChange = caching.OnChange(_ => Bound.Clear());
    }

    public QueryRegistry Registry { get; }
    public QueryExecutor Executor { get; }
    public QueryCursors Cursors { get; }
    public AdaptiveCache Cache { get; }
    public JsonSerializerOptions Json { get; }
    public bool ReadsArePrivate { get; }
    public QueryExecutionOptions QueryOptions { get; }
    public CompressionOptions Compression { get; }
    public CompressionStatistics CompressionStatistics { get; }
    public TimeProvider Time { get; }
    public BoundQueries Bound { get; } = new();

    public void Dispose() => _cachingChange?.Dispose();
}

/// <summary>A query string that bound without errors: the query, its values, its page and its cache request.</summary>
public sealed class BoundQuery(QueryDefinition query, BoundParameters parameters, QueryPage? page, CacheRequest request)
{
    public QueryDefinition Query { get; } = query;
    public BoundParameters Parameters { get; } = parameters;
    public QueryPage? Page { get; } = page;
    public CacheRequest Request { get; } = request;

    private NextPage? _next;

    /// <summary>The <c>Link</c> header to the page after this one; kept for the continuation it was made for.</summary>
    public string NextLink(HttpRequest request, string continuation)
    {
        if (_next is { } known && known.Cursor == continuation)
        {
            return known.Link;
        }
        var link = $"<{QueriesApi.NextPageUrl(request, continuation)}>; rel=\"next\"";
        _next = new NextPage(continuation, link);
        return link;
    }

    private sealed record NextPage(string Cursor, string Link);
}

/// <summary>
/// Recent successful bindings by query id and raw query string. Bounded: emptied whole when it reaches
/// <see cref="Capacity"/>, so a client sending endless distinct query strings pays the full binding each time (as it
/// would without this) and cannot grow memory. Keys hold the cache namespace and schema of their time: emptied too
/// when the caching options change.
/// </summary>
public sealed class BoundQueries
{
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<string, BoundQuery> _entries = new(StringComparer.Ordinal);

    public bool TryGet(string key, out BoundQuery bound) => _entries.TryGetValue(key, out bound!);

    public void Add(string key, BoundQuery bound)
    {
        if (_entries.Count >= Capacity)
        {
            _entries.Clear();
        }
        _entries[key] = bound;
    }

    public int Count => _entries.Count;

    public void Clear() => _entries.Clear();
}
