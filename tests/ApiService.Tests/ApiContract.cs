using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AspirePerf.ApiService.Tests;

/// <summary>One operation of the API's document: how to recognize its requests and which statuses it documents.</summary>
public sealed record ContractOperation(string Id, string Method, string Path, Regex Pattern, IReadOnlySet<int> Statuses, JsonObject Node)
{
    public override string ToString() => $"{Id} ({Method} {Path})";

    /// <summary>Required query parameters with the document's examples: a request the operation should accept.</summary>
    public string ExampleUrl(string? path = null) => (path ?? Path) + Query(Node["parameters"]?.AsArray()
        .Select(p => p!.AsObject())
        .Where(p => (string?)p["in"] == "query" && p["required"]?.GetValue<bool>() == true)
        .Select(p => KeyValuePair.Create((string)p["name"]!, Text(p["example"]))) ?? []);

    private static string Query(IEnumerable<KeyValuePair<string, string>> values)
    {
        var query = string.Join('&', values.Select(v => $"{Uri.EscapeDataString(v.Key)}={Uri.EscapeDataString(v.Value)}"));
        return query.Length == 0 ? "" : "?" + query;
    }

    private static string Text(JsonNode? value) => value switch
    {
        null => throw new InvalidOperationException("A required parameter has no example in the document."),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => value.ToJsonString(),
    };

    /// <summary>The operations of an OpenAPI 3 document.</summary>
    public static IReadOnlyList<ContractOperation> Read(JsonNode document)
    {
        var operations = new List<ContractOperation>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, node) in item!.AsObject())
            {
                var operation = node!.AsObject();
                var statuses = operation["responses"]!.AsObject().Select(r => int.Parse(r.Key, CultureInfo.InvariantCulture)).ToHashSet();
                operations.Add(new((string)operation["operationId"]!, method.ToUpperInvariant(), path, PathPattern(path, operation), statuses, operation));
            }
        }
        return operations;
    }

    // A template's parameters match one segment; an integer parameter (a route constraint such as {id:long}) only digits.
    private static Regex PathPattern(string path, JsonObject operation)
    {
        var pattern = Regex.Replace(Regex.Escape(path).Replace("\\{", "{", StringComparison.Ordinal), "{([^}]+)}", match =>
        {
            var parameter = operation["parameters"]?.AsArray().Select(p => p!.AsObject())
                .FirstOrDefault(p => (string?)p["in"] == "path" && (string?)p["name"] == match.Groups[1].Value);
            return (string?)parameter?["schema"]?["type"] == "integer" ? "-?[0-9]+" : "[^/]+";
        });
        return new Regex("^" + pattern + "$", RegexOptions.CultureInvariant);
    }
}

public sealed record RecordedResponse(string Method, string Path, int Status);

/// <summary>Records each response a test client receives, for comparing what the API did with what its document says.</summary>
public sealed class ResponseRecorder(ConcurrentQueue<RecordedResponse> sink) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var response = await base.SendAsync(request, cancellationToken);
        sink.Enqueue(new(request.Method.Method, request.RequestUri!.AbsolutePath, (int)response.StatusCode));
        return response;
    }
}
