using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AspirePerf.Dashboard.Web.Services;

/// <summary>
/// Typed client for the ApiService endpoints the dashboard shows. Answers the API gives on purpose (validation
/// problems, unknown ids, timeouts) come back as values; only transport failures (API unreachable, timeouts of the
/// HTTP call itself) surface as exceptions.
/// </summary>
public sealed class AspirePerfApiClient(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<SystemHealth> GetResourceHealthAsync(CancellationToken cancellationToken = default) =>
        await http.GetFromJsonAsync<SystemHealth>("/api/v1/system/resources", cancellationToken)
        ?? throw new InvalidOperationException("The API returned an empty resource list.");

    /// <summary>The registered queries with their parameter schemas (GET /api/v1/queries).</summary>
    public async Task<IReadOnlyList<QueryDescriptor>> ListQueriesAsync(CancellationToken cancellationToken = default) =>
        await http.GetFromJsonAsync<IReadOnlyList<QueryDescriptor>>("/api/v1/queries", Json, cancellationToken)
        ?? throw new InvalidOperationException("The API returned an empty query list.");

    /// <summary>
    /// Runs a registered query (GET /api/v1/queries/{id}). Empty values are left out so the server applies the
    /// parameter's default. 400, 404, 504 and other problem answers become <see cref="QueryRunOutcome"/> values.
    /// </summary>
    public async Task<QueryRunOutcome> RunQueryAsync(
        string id,
        IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(values);

        using var response = await http.GetAsync(BuildRunUri(id, values), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            var result = await response.Content.ReadFromJsonAsync<QueryResult>(Json, cancellationToken)
                ?? throw new InvalidOperationException("The API returned an empty query result.");
            // The computation's cost comes in a header, so the cached body (and its entity tag) depends on the data only.
            var cost = response.Headers.TryGetValues("X-Exec-Time", out var costHeader) && double.TryParse(costHeader.FirstOrDefault(),
                System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms) ? ms : 0;
            return new QuerySucceeded(result with { ExecutionMs = cost });
        }

        var problem = await ReadProblemAsync(response, cancellationToken);
        var title = string.IsNullOrWhiteSpace(problem?.Title)
            ? $"{(int)response.StatusCode} {response.ReasonPhrase ?? response.StatusCode.ToString()}"
            : problem.Title;
        if (response.StatusCode == HttpStatusCode.BadRequest && problem?.Errors is { Count: > 0 } errors)
        {
            return new QueryRejected(title, errors);
        }
        return new QueryFailed((int)response.StatusCode, title, problem?.Detail);
    }

    internal static Uri BuildRunUri(string id, IReadOnlyDictionary<string, string> values)
    {
        var uri = new StringBuilder("/api/v1/queries/").Append(Uri.EscapeDataString(id));
        var separator = '?';
        foreach (var (name, value) in values)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }
            uri.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value.Trim()));
            separator = '&';
        }
        return new Uri(uri.ToString(), UriKind.Relative);
    }

    private static async Task<ProblemBody?> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Anything in front of the API (a proxy, the resilience handler) may answer without a problem document.
        if (response.Content.Headers.ContentType?.MediaType is not { } mediaType || !mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemBody>(Json, cancellationToken);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record ProblemBody(string? Title, string? Detail, int? Status, Dictionary<string, string[]>? Errors);
}

public sealed record SystemHealth(DateTimeOffset CheckedAt, IReadOnlyList<ResourceHealth> Resources);

public sealed record ResourceHealth(string Name, string Kind, string Status, double DurationMs, string? Description);

/// <summary>A registered query as GET /api/v1/queries describes it. Kinds and types stay strings: the dashboard only shows them.</summary>
public sealed record QueryDescriptor(
    string Id,
    string Title,
    string Description,
    string Kind,
    IReadOnlyList<QueryParameterDescriptor> Parameters,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<string> Tables);

/// <summary>One parameter's schema. <see cref="Type"/> is Integer, Decimal, Text, Date or Boolean.</summary>
public sealed record QueryParameterDescriptor(
    string Name,
    string Type,
    string Description,
    bool Required,
    JsonElement? Default,
    decimal? Minimum,
    decimal? Maximum,
    DateOnly? MinimumDate,
    DateOnly? MaximumDate,
    IReadOnlyList<string>? AllowedValues,
    int? MaxLength);

public sealed record QueryColumn(string Name, string Type);

/// <summary>A query's answer; <see cref="Parameters"/> are the values the server ran it with, defaults included.</summary>
public sealed record QueryResult(
    string QueryId,
    string Title,
    IReadOnlyDictionary<string, JsonElement> Parameters,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<JsonElement[]> Rows,
    int RowCount,
    string? NextCursor,
    double ExecutionMs = 0);

/// <summary>What running a query came to: <see cref="QuerySucceeded"/>, <see cref="QueryRejected"/> or <see cref="QueryFailed"/>.</summary>
public abstract record QueryRunOutcome;

public sealed record QuerySucceeded(QueryResult Result) : QueryRunOutcome;

/// <summary>400: the parameters failed validation. <see cref="Errors"/> is keyed by parameter name as sent.</summary>
public sealed record QueryRejected(string Title, IReadOnlyDictionary<string, string[]> Errors) : QueryRunOutcome;

/// <summary>Any other problem: 404 unknown query, 504 statement timeout, 5xx.</summary>
public sealed record QueryFailed(int StatusCode, string Title, string? Detail) : QueryRunOutcome;
