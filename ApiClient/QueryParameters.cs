using System.Text;

namespace AspirePerf.ApiClient.Api.V1.Queries.Item;

/// <summary>
/// Running a query chosen at run time: its parameters are named by its schema (GET /api/v1/queries), not by the generic
/// operation, so they are added to that operation's URL here. A query known when writing code has its own typed
/// operation (<c>Api.V1.Queries.WagePercentiles</c>…).
/// </summary>
public partial class QueriesItemRequestBuilder
{
    /// <summary>The same operation with these query-string values (empty ones left out, so the server applies the defaults).</summary>
    public QueriesItemRequestBuilder WithParameters(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var url = new StringBuilder(ToGetRequestInformation().URI.GetLeftPart(UriPartial.Path));
        var separator = '?';
        foreach (var (name, value) in parameters)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }
            url.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value.Trim()));
            separator = '&';
        }
        return WithUrl(url.ToString());
    }
}
