using Microsoft.AspNetCore.RateLimiting;
using System.Globalization;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Http;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Workforce.Queries;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.ApiService.Apis;

/// <summary>The query registry over HTTP: list the registered queries, run one by id with validated parameters.</summary>
public static class QueriesApi
{
    public const string ExecTimeHeader = "X-Exec-Time";
    public const string CacheHeader = "X-Cache";
    public const string CacheKeyHeader = "X-Cache-Key";

    public static RouteGroupBuilder MapQueriesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/queries").WithTags("Queries").RequireAuthorization(ApiPolicies.Reader).RequireRateLimiting(RateLimitOptions.Reads);
        api.MapGet("/", ListQueries)
            .WithName("ListQueries")
            .WithSummary("The registered queries, with each parameter's schema and the result columns");
        api.MapGet("/{id}", RunQueryAsync)
            .WithName("RunQuery")
            .WithSummary("Run a registered query")
            .WithDescription("Parameters come from the query string and are validated against the query's schema. " +
                "Unknown id: 404. Invalid parameters: 400 naming each. Statement timeout: 504. Database down and nothing cached: 503. " +
                "X-Cache tells HIT, MISS, STALE (recomputing failed; last good value) or BYPASS; X-Exec-Time the computation's cost in ms.")
            .Produces<QueryResponse>(StatusCodes.Status200OK, "application/json");
        return api;
    }

    public static Ok<IReadOnlyList<QueryDescriptor>> ListQueries(QueryRegistry registry) =>
        TypedResults.Ok<IReadOnlyList<QueryDescriptor>>([.. registry.All.Select(QueryDescriptor.From)]);

    public static async Task<Results<FileContentHttpResult, StatusCodeHttpResult, ValidationProblem, ProblemHttpResult>> RunQueryAsync(
        string id,
        HttpContext context,
        QueryRegistry registry,
        QueryExecutor executor,
        AdaptiveCache cache,
        IOptions<JsonOptions> json,
        IOptions<ApiKeyOptions> keys,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var readsNeedKey = keys.Value.RequireReaderForReads;
        if (registry.Find(id) is not { } query)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Unknown query",
                detail: $"No registered query has the id '{(id.Length > 80 ? id[..80] + "…" : id)}'. GET /api/v1/queries lists them.");
        }

        var raw = context.Request.Query.Select(q => new KeyValuePair<string, IReadOnlyList<string?>>(q.Key, [.. q.Value]));
        var (parameters, errors) = QueryParameterBinder.Bind(query, raw);
        if (parameters is null)
        {
            return TypedResults.ValidationProblem(errors, title: $"Invalid parameters for query '{query.Id}'");
        }

        var request = QueryResponseCache.Request(cache, query, parameters);
        try
        {
            // Operators may force a recompute (benchmarks, checking a fix); anyone else asking would be a free DoS lever.
            var recompute = context.Request.Headers.CacheControl.ToString().Contains("no-cache", StringComparison.OrdinalIgnoreCase)
                && context.User.IsInRole(ApiRoles.Operator);
            // An L1 hit is answered without awaiting anything; everything else goes through L2 and the source.
            var lookup = !recompute && cache.TryGetLocal(request, out var local) ? local
                : await cache.GetOrCreateAsync(request,
                    ct => QueryResponseCache.ComputeAsync(executor, query, parameters, json.Value.SerializerOptions, time, ct),
                    recompute, cancellationToken);

            var headers = context.Response.Headers;
            headers[CacheHeader] = lookup.Outcome.ToString().ToUpperInvariant();
            headers[CacheKeyHeader] = request.Key;
            headers[ExecTimeHeader] = lookup.Payload.CostMs.ToString("0.00", CultureInfo.InvariantCulture);
            if (lookup.Outcome is CacheOutcome.Hit or CacheOutcome.Stale)
            {
                headers.Age = Math.Max(0, (long)(time.GetUtcNow() - lookup.Payload.CreatedAt).TotalSeconds).ToString(CultureInfo.InvariantCulture);
            }
            // Clients and shared caches may keep the answer but revalidate it each time: the entity tag turns that into a
            // bodiless 304 while the answer is unchanged. (A max-age from the entry's remaining TTL needs the expiry in
            // the cached payload; it comes with the payload format change for precompressed entries.)
            headers.ETag = lookup.Payload.ETag;
            headers.CacheControl = readsNeedKey ? "private, no-cache" : "public, no-cache";
            if (CacheHeaders.ClientHasCurrent(context.Request, lookup.Payload.ETag))
            {
                return TypedResults.StatusCode(StatusCodes.Status304NotModified);
            }
            return TypedResults.Bytes(lookup.Payload.Body, lookup.Payload.ContentType);
        }
        catch (QueryTimeoutException ex)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status504GatewayTimeout,
                title: "Query timed out",
                detail: $"{ex.Message} Narrow the parameters, or raise Queries:StatementTimeoutMsByQuery:{query.Id}.");
        }
        catch (NpgsqlException ex) when (ex is not PostgresException && !cancellationToken.IsCancellationRequested)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Database unavailable",
                detail: $"The query could not reach PostgreSQL and no cached answer was available: {ex.Message}");
        }
    }

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
        [.. q.Parameters.Select(p => new QueryParameterDescriptor(p.Name, p.Type, p.Description, p.Required, p.Default, p.Example,
            p.Minimum, p.Maximum,
            p.MinimumDate, p.MaximumDate, p.AllowedValues, p.Type == QueryParameterType.Text ? p.MaxLength : null))],
        q.Columns, q.Tables);
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
    int? MaxLength);
