using Microsoft.AspNetCore.RateLimiting;
using System.Globalization;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Http;
using AspirePerf.ApiService.OpenApi;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Workforce.Queries;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Net.Http.Headers;
using Npgsql;

namespace AspirePerf.ApiService.Apis;

/// <summary>The query registry over HTTP: list the registered queries, run one by id with validated parameters.</summary>
public static partial class QueriesApi
{
    public const string ExecTimeHeader = "X-Exec-Time";
    public const string CacheHeader = "X-Cache";
    public const string CacheKeyHeader = "X-Cache-Key";

    public static RouteGroupBuilder MapQueriesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/queries").WithTags("Queries").RequireReaders(app).RequireRateLimiting(RateLimitOptions.Reads);
        api.MapGet("/", ListQueries)
            .WithName("ListQueries")
            .WithSummary("The registered queries, with each parameter's schema and the result columns");
        api.MapGet("/{id}", RunQueryAsync)
            .WithName("RunQuery")
            .WithSummary("Run a registered query")
            .WithDescription("Parameters come from the query string and are validated against the query's schema. " +
                "Unknown id: 404. Invalid parameters: 400 naming each. Statement timeout: 504. Database down and nothing cached: 503. " +
                "A listing answers one keyset page: limit (1 to Queries:MaxRows, default Queries:DefaultPageSize) and the opaque cursor " +
                "from the previous page's nextCursor or Link rel=\"next\". An aggregate with more rows than Queries:MaxRows is a 422: stream it. " +
                "X-Cache tells HIT, MISS, STALE (recomputing failed; last good value) or BYPASS; X-Exec-Time the computation's cost in ms. " +
                "Cached answers carry a strong ETag (If-None-Match gives 304) and Cache-Control max-age from their remaining TTL.")
            .Produces<QueryResponse>(StatusCodes.Status200OK, "application/json")
            .ProducesFor(StatusCodes.Status304NotModified, "Not modified: `If-None-Match` names the current answer's entity tag. No body.")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No registered query has this id.")
            .ProducesProblemFor(StatusCodes.Status422UnprocessableEntity, "An aggregate with more rows than Queries:MaxRows: stream it " +
                "(`Link: <…/rows?…>; rel=\"alternate\"` points at the stream).")
            .ProducesProblemFor(StatusCodes.Status503ServiceUnavailable, "The database cannot be reached and no cached answer is available.")
            .ProducesProblemFor(StatusCodes.Status504GatewayTimeout, "The query ran into its statement timeout (Queries:StatementTimeoutMs).");
        api.MapGet("/{id}/rows", StreamRowsAsync)
            .WithName("StreamQueryRows")
            .WithSummary("Stream every row of a registered query from the database cursor")
            .WithDescription("Accept: application/x-ndjson (one object per line), application/json (one array of objects, the default) " +
                "or text/csv. Same parameters and problems as RunQuery; a listing's cursor continues after that page. Never cached; " +
                "compressed when the client accepts it. A failure after the first row aborts the response, so it is never mistaken for a complete one.")
            .WithNoStore()
            .Produces(StatusCodes.Status200OK, typeof(void), "application/x-ndjson", "application/json", "text/csv")
            .ProducesValidationProblem()
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No registered query has this id.")
            .ProducesProblemFor(StatusCodes.Status406NotAcceptable, "The `Accept` header allows none of application/x-ndjson, application/json and text/csv.")
            .ProducesProblemFor(StatusCodes.Status503ServiceUnavailable, "The database cannot be reached.")
            .ProducesProblemFor(StatusCodes.Status504GatewayTimeout, "The query ran into its statement timeout before the first row (Queries:StreamStatementTimeoutMs).");
        return api;
    }

    public static Ok<IReadOnlyList<QueryDescriptor>> ListQueries(QueryRegistry registry) =>
        TypedResults.Ok<IReadOnlyList<QueryDescriptor>>([.. registry.All.Select(QueryDescriptor.From)]);

    public static async Task<Results<FileContentHttpResult, StatusCodeHttpResult, ValidationProblem, ProblemHttpResult>> RunQueryAsync(
        string id,
        HttpContext context,
        QueryEndpoint endpoint,
        CancellationToken cancellationToken)
    {
        // A query string bound before (the common case for a cached answer) skips binding, validation and key hashing.
        var memoKey = id + context.Request.QueryString.Value;
        if (!endpoint.Bound.TryGet(memoKey, out var bound))
        {
            if (endpoint.Registry.Find(id) is not { } definition)
            {
                return UnknownQuery(id);
            }
            var (boundParameters, boundPage, errors) = Bind(definition, context.Request.Query, endpoint.Cursors, endpoint.QueryOptions, paged: true);
            if (boundParameters is null)
            {
                return TypedResults.ValidationProblem(errors, title: $"Invalid parameters for query '{definition.Id}'");
            }
            bound = new BoundQuery(definition, boundParameters, boundPage, QueryResponseCache.Request(endpoint.Cache, definition, boundParameters, boundPage));
            endpoint.Bound.Add(memoKey, bound);
        }
        var (query, parameters, page, request) = (bound.Query, bound.Parameters, bound.Page, bound.Request);
        var cache = endpoint.Cache;
        try
        {
            // Operators may force a recompute (benchmarks, checking a fix); anyone else asking would be a free DoS lever.
            var recompute = context.Request.Headers.CacheControl.Count > 0
                && context.Request.Headers.CacheControl.ToString().Contains("no-cache", StringComparison.OrdinalIgnoreCase)
                && context.User.IsInRole(ApiRoles.Operator);
            // An L1 hit is answered without awaiting anything; everything else goes through L2 and the source.
            var lookup = !recompute && cache.TryGetLocal(request, out var local) ? local
                : await cache.GetOrCreateAsync(request,
                    ct => QueryResponseCache.ComputeAsync(endpoint.Executor, endpoint.Cursors, query, parameters, page, endpoint.Json, endpoint.Time, ct),
                    recompute, cancellationToken);
            var payload = lookup.Payload;

            var headers = context.Response.Headers;
            headers[CacheHeader] = lookup.Outcome switch
            {
                CacheOutcome.Hit => "HIT",
                CacheOutcome.Miss => "MISS",
                CacheOutcome.Stale => "STALE",
                _ => "BYPASS",
            };
            headers[CacheKeyHeader] = request.Key;
            headers[ExecTimeHeader] = payload.CostText;
            if (lookup.Outcome is CacheOutcome.Hit or CacheOutcome.Stale)
            {
                headers.Age = Math.Max(0, (long)(endpoint.Time.GetUtcNow() - payload.CreatedAt).TotalSeconds).ToString(CultureInfo.InvariantCulture);
            }
            if (payload.Continuation is { } next)
            {
                headers.Link = bound.NextLink(context.Request, next);
            }
            // Shared caches and clients may keep the answer for what is left of its TTL, then revalidate: the entity tag
            // (one per encoding: each names exact bytes) turns that into a bodiless 304 while the answer is unchanged.
            var encoding = ResponseCompressionSetup.ChooseEncoding(context.Request, payload.Body.Length, endpoint.Compression);
            var body = encoding is null ? payload.Body : payload.Compressed(encoding);
            if (body.IsEmpty && !payload.Body.IsEmpty)
            {
                (encoding, body) = (null, payload.Body); // compressing would not have made it smaller
            }
            headers.Vary = "Accept-Encoding";
            var etag = payload.ETagFor(encoding);
            headers.ETag = etag;
            headers.CacheControl = CacheControl(endpoint.ReadsArePrivate, cache.FreshFor(request, lookup));
            if (CacheHeaders.ClientHasCurrent(context.Request, etag))
            {
                return TypedResults.StatusCode(StatusCodes.Status304NotModified);
            }
            if (encoding is not null)
            {
                headers.ContentEncoding = encoding;
                endpoint.CompressionStatistics.Record(encoding, "cached", payload.Body.Length, body.Length);
            }
            return TypedResults.Bytes(body, payload.ContentType);
        }
        catch (QueryResultTooLargeException ex)
        {
            context.Response.Headers.Link = $"<{context.Request.Path}/rows{context.Request.QueryString}>; rel=\"alternate\"";
            return TypedResults.Problem(
                statusCode: StatusCodes.Status422UnprocessableEntity,
                title: "Too many rows for a buffered answer",
                detail: $"{ex.Message} GET {context.Request.Path}/rows streams every row.");
        }
        catch (QueryTimeoutException ex)
        {
            return Timeout(query, ex);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException && !cancellationToken.IsCancellationRequested)
        {
            return DatabaseUnavailable(ex);
        }
    }

    // The few Cache-Control values in use, made once: max-age changes once a second at most per answer.
    private static string CacheControl(bool isPrivate, TimeSpan? fresh) => fresh is { } remaining
        ? (isPrivate ? "private, max-age=" : "public, max-age=") + ((long)remaining.TotalSeconds).ToString(CultureInfo.InvariantCulture)
        : isPrivate ? "private, no-cache" : "public, no-cache";

    /// <summary>
    /// Every row, from the database cursor to the socket: validated like <see cref="RunQueryAsync"/> (problems before the
    /// first byte), then written as rows arrive, flushed every 32 KB, with the client's pace holding the cursor back.
    /// </summary>
    public static async Task<IResult> StreamRowsAsync(
        string id,
        HttpContext context,
        QueryRegistry registry,
        QueryExecutor executor,
        QueryCursors cursors,
        IOptions<JsonOptions> json,
        IOptions<QueryExecutionOptions> queryOptions,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (registry.Find(id) is not { } query)
        {
            return UnknownQuery(id);
        }
        if (NegotiateRowFormat(context.Request) is not { } format)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status406NotAcceptable, title: "Not acceptable",
                detail: "Rows stream as application/x-ndjson, application/json or text/csv; the Accept header allows none of them.");
        }
        var (parameters, page, errors) = Bind(query, context.Request.Query, cursors, queryOptions.Value, paged: false);
        if (parameters is null)
        {
            return TypedResults.ValidationProblem(errors, title: $"Invalid parameters for query '{query.Id}'");
        }

        QueryRows rows;
        try
        {
            rows = await executor.StreamAsync(query, parameters, page?.After, cancellationToken);
        }
        catch (QueryTimeoutException ex)
        {
            return Timeout(query, ex);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException && !cancellationToken.IsCancellationRequested)
        {
            return DatabaseUnavailable(ex);
        }

        await using (rows)
        {
            var response = context.Response;
            response.ContentType = QueryRowWriter.ContentType(format);
            response.Headers["X-Accel-Buffering"] = "no";
            try
            {
                var count = await QueryRowWriter.WriteAsync(rows, response.BodyWriter, format, json.Value.SerializerOptions.Encoder, progress: null, cancellationToken);
                await rows.CompleteAsync(cancellationToken);
                context.Items[StreamedRowsItem] = count;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The client went away: the cursor is cancelled on the server when the rows are disposed.
            }
            catch (Exception ex) when (ex is QueryTimeoutException or NpgsqlException or IOException)
            {
                // The status line is gone: abort the connection, so the client sees a broken response, never a short one.
                LogStreamFailed(loggers.CreateLogger(typeof(QueriesApi)), ex, query.Id);
                context.Abort();
            }
        }
        return TypedResults.Empty;
    }

    public const string StreamedRowsItem = "aspireperf.streamed_rows";

    /// <summary>
    /// Binds the query string: the query's own parameters, and for a listing its paging (<c>cursor</c>, and
    /// <c>limit</c> when <paramref name="paged"/>). A cursor must be one this service issued for this query with these
    /// parameters.
    /// </summary>
    private static (BoundParameters? Parameters, QueryPage? Page, Dictionary<string, string[]> Errors) Bind(
        QueryDefinition query, IQueryCollection queryString, QueryCursors cursors, QueryExecutionOptions options, bool paged)
    {
        var listing = query.Keyset is not null;
        var raw = queryString
            .Where(q => !listing || !(q.Key.Equals("cursor", StringComparison.OrdinalIgnoreCase) || (paged && q.Key.Equals("limit", StringComparison.OrdinalIgnoreCase))))
            .Select(q => new KeyValuePair<string, IReadOnlyList<string?>>(q.Key, [.. q.Value]));
        var (parameters, errors) = QueryParameterBinder.Bind(query, raw);
        if (!listing)
        {
            return (parameters, null, errors);
        }

        var limit = options.DefaultPageSize;
        if (paged && queryString.TryGetValue("limit", out var limitText))
        {
            if (limitText.Count != 1 || !int.TryParse(limitText[0], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > options.MaxRows)
            {
                errors["limit"] = [$"Must be one whole number from 1 to {options.MaxRows} (rows per page)."];
            }
        }
        long? after = null;
        if (queryString.TryGetValue("cursor", out var cursorText) && parameters is not null)
        {
            if (cursorText.Count == 1 && cursors.TryRead(query, parameters, cursorText[0], out var key))
            {
                after = key;
            }
            else
            {
                errors["cursor"] = ["Not a cursor of this query with these parameters: pass the previous page's nextCursor (or follow its Link) unchanged, with the same parameters."];
            }
        }
        return errors.Count > 0 ? (null, null, errors) : (parameters, new QueryPage(after, limit), errors);
    }

    /// <summary>The request's own URL with the cursor replaced: every other parameter stays as the client wrote it.</summary>
    internal static string NextPageUrl(HttpRequest request, string cursor)
    {
        var query = new QueryBuilder(request.Query.Where(q => !q.Key.Equals("cursor", StringComparison.OrdinalIgnoreCase))
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? ""))))
        {
            { "cursor", cursor },
        };
        return request.PathBase + request.Path + query.ToQueryString();
    }

    /// <summary>The client's preferred streamed form by Accept (q-values honoured); JSON when it states none; null when it accepts none.</summary>
    private static RowFormat? NegotiateRowFormat(HttpRequest request)
    {
        if (request.Headers.Accept.Count == 0 || !MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accepted))
        {
            return RowFormat.JsonArray;
        }
        (string Type, RowFormat Format)[] offered = [("application/x-ndjson", RowFormat.Ndjson), ("application/json", RowFormat.JsonArray), ("text/csv", RowFormat.Csv)];
        var best = offered
            .Select(o => (o.Format, Quality: accepted.Where(a => new MediaTypeHeaderValue(o.Type).IsSubsetOf(a)).Select(a => a.Quality ?? 1).DefaultIfEmpty(0).Max()))
            .Where(o => o.Quality > 0)
            .OrderByDescending(o => o.Quality)
            .ToList();
        return best.Count == 0 ? null : best[0].Format;
    }

    private static ProblemHttpResult UnknownQuery(string id) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: "Unknown query",
        detail: $"No registered query has the id '{(id.Length > 80 ? id[..80] + "…" : id)}'. GET /api/v1/queries lists them.");

    private static ProblemHttpResult Timeout(QueryDefinition query, QueryTimeoutException ex) => TypedResults.Problem(
        statusCode: StatusCodes.Status504GatewayTimeout,
        title: "Query timed out",
        detail: $"{ex.Message} Narrow the parameters, or raise Queries:StatementTimeoutMsByQuery:{query.Id}.");

    private static ProblemHttpResult DatabaseUnavailable(NpgsqlException ex) => TypedResults.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "Database unavailable",
        detail: $"The query could not reach PostgreSQL and no cached answer was available: {ex.Message}");

    [LoggerMessage(LogLevel.Warning, "Streaming the rows of {QueryId} failed after the response started; the connection was aborted")]
    private static partial void LogStreamFailed(ILogger logger, Exception ex, string queryId);
}

public sealed record QueryDescriptor(
    string Id,
    string Title,
    string Description,
    QueryKind Kind,
    IReadOnlyList<QueryParameterDescriptor> Parameters,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<string> Tables)
{
    public static QueryDescriptor From(QueryDefinition q) => new(q.Id, q.Title, q.Description, q.Kind,
        [.. q.Parameters.Select(QueryParameterDescriptor.From)], q.Columns, q.Tables);
}

public sealed record QueryParameterDescriptor(
    string Name,
    QueryParameterType Type,
    string Description,
    bool Required,
    object? Default,
    object? Example,
    decimal? Minimum,
    decimal? Maximum,
    DateOnly? MinimumDate,
    DateOnly? MaximumDate,
    IReadOnlyList<string>? AllowedValues,
    int? MaxLength)
{
    public static QueryParameterDescriptor From(QueryParameter p) => new(p.Name, p.Type, p.Description, p.Required, p.Default, p.Example,
        p.Minimum, p.Maximum, p.MinimumDate, p.MaximumDate, p.AllowedValues, p.Type == QueryParameterType.Text ? p.MaxLength : null);
}
