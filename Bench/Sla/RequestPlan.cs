using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AspirePerf.Bench.Sla;

/// <summary>A parameter as the API's registry describes it (<c>GET /api/v1/queries</c>, <c>GET /api/v1/analyses</c>).</summary>
public sealed record ParameterSchema(
    string Name,
    string Type,
    bool Required,
    JsonElement? Default,
    JsonElement? Example,
    decimal? Minimum,
    decimal? Maximum,
    DateOnly? MinimumDate,
    DateOnly? MaximumDate,
    IReadOnlyList<string>? AllowedValues);

/// <summary>
/// Makes a scenario's requests: picks one by weight and generates its parameters from the registry's schema with a
/// seeded random source, so a run is reproducible. Values are valid by construction (types, ranges, allowed values,
/// <c>from…</c> ≤ <c>to…</c> pairs ordered); rules the schema does not describe are the scenario file's to respect
/// through overrides.
/// </summary>
public sealed class RequestPlan
{
    private readonly SlaScenario _scenario;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<ParameterSchema>> _schemas;
    private readonly double[] _cumulative;
    private readonly Dictionary<string, string[]> _workingSets = new(StringComparer.Ordinal);

    /// <param name="schemas">Parameters by <c>query:&lt;id&gt;</c> and <c>analysis:&lt;id&gt;</c>.</param>
    public RequestPlan(SlaScenario scenario, IReadOnlyDictionary<string, IReadOnlyList<ParameterSchema>> schemas, int seed)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        (_scenario, _schemas) = (scenario, schemas);
        var total = 0.0;
        _cumulative = [.. scenario.Requests.Select(r => total += r.Weight)];
        foreach (var request in scenario.Requests)
        {
            if (Key(request) is { } key && !schemas.ContainsKey(key))
            {
                throw new InvalidDataException($"Scenario '{scenario.Name}', request '{request.Name}': the API has no {key.Replace(":", " '", StringComparison.Ordinal)}'.");
            }
            if (request.Cardinality > 0)
            {
                var random = new Random(HashCode.Combine(seed, Stable(request.Name)));
                _workingSets[request.Name] = [.. Enumerable.Range(0, request.Cardinality).Select(_ => Url(request, random))];
            }
        }
    }

    /// <summary>The next request for one sender (each sender keeps its own random source).</summary>
    public (string Name, string Url) Next(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var pick = random.NextDouble() * _cumulative[^1];
        var index = Array.FindIndex(_cumulative, c => pick < c);
        var request = _scenario.Requests[index < 0 ? ^1 : index];
        return (request.Name, _workingSets.TryGetValue(request.Name, out var set) ? set[random.Next(set.Length)] : Url(request, random));
    }

    private static string? Key(SlaRequest request) =>
        request.Query is { } q ? "query:" + q : request.Analysis is { } a ? "analysis:" + a : null;

    private string Url(SlaRequest request, Random random)
    {
        if (request.Path is { } path)
        {
            return path;
        }
        var url = new StringBuilder(request.Query is { } q ? "/api/v1/queries/" + q : "/api/v1/analyses/" + request.Analysis);
        var values = Generate(_schemas[Key(request)!], request.Parameters, random);
        for (var i = 0; i < values.Count; i++)
        {
            url.Append(i == 0 ? '?' : '&').Append(Uri.EscapeDataString(values[i].Name)).Append('=').Append(Uri.EscapeDataString(values[i].Value));
        }
        return url.ToString();
    }

    /// <summary>Valid values for <paramref name="schema"/>: every required parameter, each optional one half of the time.</summary>
    public static List<(string Name, string Value)> Generate(IReadOnlyList<ParameterSchema> schema, IReadOnlyDictionary<string, ParameterOverride> overrides, Random random)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(random);
        var values = new List<(string Name, string Value)>();
        // An optional from…/to… pair is sent whole or not at all: one end alone would be checked against the other's default.
        var coin = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var parameter in schema)
        {
            var custom = overrides.GetValueOrDefault(parameter.Name);
            var pair = PairName(parameter.Name);
            var skip = !parameter.Required && custom is null && (pair is not null && coin.TryGetValue(pair, out var decided) ? decided : random.Next(2) == 0);
            if (pair is not null)
            {
                coin.TryAdd(pair, skip);
            }
            if (custom?.Omit == true || skip)
            {
                continue;
            }
            if (custom?.Values is { Count: > 0 } fixedValues)
            {
                values.Add((parameter.Name, fixedValues[random.Next(fixedValues.Count)]));
                continue;
            }
            if (Value(parameter, custom, random) is { } value)
            {
                values.Add((parameter.Name, value));
            }
        }
        OrderPairs(values);
        return values;
    }

    private static string? Value(ParameterSchema parameter, ParameterOverride? custom, Random random)
    {
        var culture = CultureInfo.InvariantCulture;
        switch (parameter.Type)
        {
            case "Integer":
            case "Decimal":
                var min = custom?.Min is { } a ? decimal.Parse(a, culture) : parameter.Minimum ?? 0;
                // An unbounded or id-sized range is narrowed to ten thousand values past its start: give an override to choose.
                var max = custom?.Max is { } b ? decimal.Parse(b, culture) : Math.Min(parameter.Maximum ?? min + 10_000, min + 10_000);
                return parameter.Type == "Integer"
                    ? ((long)min + random.NextInt64((long)(max - min) + 1)).ToString(culture)
                    : Math.Min(max, Math.Round(min + (max - min) * (decimal)random.NextDouble(), 2)).ToString(culture);
            case "Date":
                var first = custom?.Min is { } c ? DateOnly.Parse(c, culture) : parameter.MinimumDate ?? new DateOnly(2000, 1, 1);
                var last = custom?.Max is { } d ? DateOnly.Parse(d, culture) : parameter.MaximumDate ?? first.AddYears(10);
                return first.AddDays(random.Next(last.DayNumber - first.DayNumber + 1)).ToString("yyyy-MM-dd", culture);
            case "Boolean":
                return random.Next(2) == 0 ? "false" : "true";
            default:
                return parameter.AllowedValues is { Count: > 0 } allowed ? allowed[random.Next(allowed.Count)]
                    : parameter.Default is { ValueKind: JsonValueKind.String } text ? text.GetString()
                    : parameter.Example?.ToString();
        }
    }

    private static string? PairName(string name) =>
        name.StartsWith("from", StringComparison.Ordinal) ? name["from".Length..] : name.StartsWith("to", StringComparison.Ordinal) ? name["to".Length..] : null;

    /// <summary><c>from</c>/<c>to</c> and <c>fromYear</c>/<c>toYear</c> style pairs in ascending order (the registry's rules ask for it).</summary>
    private static void OrderPairs(List<(string Name, string Value)> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (!values[i].Name.StartsWith("from", StringComparison.Ordinal))
            {
                continue;
            }
            var partner = values.FindIndex(v => v.Name == "to" + values[i].Name["from".Length..]);
            if (partner >= 0 && Compare(values[i].Value, values[partner].Value) > 0)
            {
                (values[i], values[partner]) = ((values[i].Name, values[partner].Value), (values[partner].Name, values[i].Value));
            }
        }
    }

    private static int Compare(string a, string b) =>
        decimal.TryParse(a, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(b, CultureInfo.InvariantCulture, out var y)
            ? x.CompareTo(y) : string.CompareOrdinal(a, b); // ISO dates order as text

    /// <summary>A string hash that is the same in every process (string.GetHashCode is randomized per process).</summary>
    internal static int Stable(string text)
    {
        var hash = 17;
        foreach (var c in text)
        {
            hash = unchecked(hash * 31 + c);
        }
        return hash;
    }

    /// <summary>Reads the registry's parameter schemas for queries and analyses.</summary>
    public static async Task<Dictionary<string, IReadOnlyList<ParameterSchema>>> LoadSchemasAsync(HttpClient http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        var schemas = new Dictionary<string, IReadOnlyList<ParameterSchema>>(StringComparer.Ordinal);
        foreach (var (kind, path) in new[] { ("query", "/api/v1/queries"), ("analysis", "/api/v1/analyses") })
        {
            using var response = await http.GetAsync(path, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                continue; // an API without analyses: scenarios that name one fail with a clear message
            }
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (var item in document.RootElement.EnumerateArray())
            {
                schemas[$"{kind}:{item.GetProperty("id").GetString()}"] =
                    item.GetProperty("parameters").Deserialize<List<ParameterSchema>>(JsonSerializerOptions.Web)!;
            }
        }
        return schemas;
    }
}
