using System.Globalization;
using AspirePerf.ApiService.Authentication;
using AspirePerf.Performance.Database.Queries;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspirePerf.ApiService.Apis;

/// <summary>The query registry over HTTP: list the registered queries, run one by id with validated parameters.</summary>
public static class QueriesApi
{
    public const string ExecTimeHeader = "X-Exec-Time";

    public static RouteGroupBuilder MapQueriesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/queries").WithTags("Queries").RequireAuthorization(ApiPolicies.Reader);
        api.MapGet("/", ListQueries)
            .WithName("ListQueries")
            .WithSummary("The registered queries, with each parameter's schema and the result columns");
        api.MapGet("/{id}", RunQueryAsync)
            .WithName("RunQuery")
            .WithSummary("Run a registered query")
            .WithDescription("Parameters come from the query string and are validated against the query's schema. " +
                "Unknown id: 404. Invalid parameters: 400 naming each. Statement timeout: 504.");
        return api;
    }

    public static Ok<IReadOnlyList<QueryDescriptor>> ListQueries(QueryRegistry registry) =>
        TypedResults.Ok<IReadOnlyList<QueryDescriptor>>([.. registry.All.Select(QueryDescriptor.From)]);

    public static async Task<Results<Ok<QueryResponse>, ValidationProblem, ProblemHttpResult>> RunQueryAsync(
        string id,
        HttpContext context,
        QueryRegistry registry,
        QueryExecutor executor,
        CancellationToken cancellationToken)
    {
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

        try
        {
            var result = await executor.ExecuteAsync(query, parameters, cancellationToken);
            context.Response.Headers[ExecTimeHeader] = result.ExecutionMs.ToString("0.00", CultureInfo.InvariantCulture);
            return TypedResults.Ok(new QueryResponse(query.Id, query.Title, parameters.Values, result.Columns, result.Rows,
                result.RowCount, result.Truncated, Math.Round(result.ExecutionMs, 2)));
        }
        catch (QueryTimeoutException ex)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status504GatewayTimeout,
                title: "Query timed out",
                detail: $"{ex.Message} Narrow the parameters, or raise Queries:StatementTimeoutMsByQuery:{query.Id}.");
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
        [.. q.Parameters.Select(p => new QueryParameterDescriptor(p.Name, p.Type, p.Description, p.Required, p.Default,
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
    decimal? Minimum,
    decimal? Maximum,
    DateOnly? MinimumDate,
    DateOnly? MaximumDate,
    IReadOnlyList<string>? AllowedValues,
    int? MaxLength);

public sealed record QueryResponse(
    string QueryId,
    string Title,
    IReadOnlyDictionary<string, object?> Parameters,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<object?[]> Rows,
    int RowCount,
    bool Truncated,
    double ExecutionMs);
