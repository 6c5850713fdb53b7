using System.Text.Json;
using System.Text.Json.Serialization;

namespace AspirePerf.Bench.Sla;

/// <summary>The versioned scenario file (<c>Bench/sla-scenarios.json</c>): what to send, how hard, and what must hold.</summary>
public sealed record SlaScenarioFile
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Bumped when a scenario changes in a way that makes old baselines incomparable.</summary>
    public int Version { get; init; } = 1;

    /// <summary>Seeds every parameter generator: the same file and seed send the same requests in the same order.</summary>
    public int Seed { get; init; } = 42;

    public double WarmupSeconds { get; init; } = 5;

    public double DurationSeconds { get; init; } = 30;

    public IReadOnlyList<SlaScenario> Scenarios { get; init; } = [];

    public static SlaScenarioFile Load(string path)
    {
        var file = JsonSerializer.Deserialize<SlaScenarioFile>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"{path} is empty.");
        var problems = file.Scenarios.SelectMany(s => s.Problems()).ToList();
        if (file.Scenarios.Count == 0 || problems.Count > 0)
        {
            throw new InvalidDataException($"{path}: " + (file.Scenarios.Count == 0 ? "no scenarios" : string.Join("; ", problems)));
        }
        return file;
    }
}

public enum LoadModel
{
    /// <summary>Constant arrival rate: requests are due on a fixed schedule whatever the server does (wrk2, k6 constant-arrival-rate).</summary>
    Open,

    /// <summary>N users, each sending its next request when its previous one ended, after a think time.</summary>
    Closed,
}

public sealed record SlaScenario(string Name)
{
    public string Description { get; init; } = "";

    public LoadModel Model { get; init; } = LoadModel.Open;

    /// <summary>Open model: requests per second.</summary>
    public double Rate { get; init; } = 10;

    /// <summary>Open model: requests in flight at most; a request due while this many are in flight is dropped and counted (k6's dropped iterations).</summary>
    public int MaxInFlight { get; init; } = 64;

    /// <summary>Closed model: concurrent users.</summary>
    public int Users { get; init; } = 4;

    /// <summary>Closed model: pause between a user's requests.</summary>
    public double ThinkMs { get; init; }

    /// <summary>Latency budgets in ms by percentile name (p50, p90, p95, p99, p99.9, max), measured from the intended start.</summary>
    public Dictionary<string, double> Targets { get; init; } = [];

    /// <summary>The largest share of requests that may fail (status ≥ 400 or no response) for the SLA to hold.</summary>
    public double MaxErrorRate { get; init; } = 0.01;

    public IReadOnlyList<SlaRequest> Requests { get; init; } = [];

    public IEnumerable<string> Problems()
    {
        if (Requests.Count == 0)
        {
            yield return $"scenario '{Name}' has no requests";
        }
        if (Model == LoadModel.Open && (Rate <= 0 || MaxInFlight < 1))
        {
            yield return $"scenario '{Name}': rate and maxInFlight must be positive";
        }
        if (Model == LoadModel.Closed && Users < 1)
        {
            yield return $"scenario '{Name}': users must be positive";
        }
        foreach (var target in Targets.Keys.Where(k => Percentiles.Of(k) is null))
        {
            yield return $"scenario '{Name}': unknown target '{target}' (use {string.Join(", ", Percentiles.Names)})";
        }
        foreach (var request in Requests.Where(r => (r.Query is null ? 0 : 1) + (r.Analysis is null ? 0 : 1) + (r.Path is null ? 0 : 1) != 1 || r.Weight <= 0))
        {
            yield return $"scenario '{Name}', request '{request.Name}': give exactly one of query, analysis or path, and a positive weight";
        }
    }
}

/// <summary>
/// One kind of request in a scenario: a registered query or analysis (its parameters generated from the registry's
/// schema) or a fixed path, with a weight. <see cref="Cardinality"/> &gt; 0 draws parameters from that many fixed sets
/// (a cacheable working set); 0 makes fresh ones each time (mostly cache misses).
/// </summary>
public sealed record SlaRequest(string Name)
{
    public string? Query { get; init; }

    public string? Analysis { get; init; }

    public string? Path { get; init; }

    public double Weight { get; init; } = 1;

    public int Cardinality { get; init; }

    /// <summary>Narrower ranges or fixed choices than the schema's, by parameter name.</summary>
    public Dictionary<string, ParameterOverride> Parameters { get; init; } = [];
}

/// <summary>Min/max (numbers and ISO dates as text), a fixed list of values, or leaving an optional parameter out.</summary>
public sealed record ParameterOverride
{
    public string? Min { get; init; }

    public string? Max { get; init; }

    public IReadOnlyList<string>? Values { get; init; }

    public bool Omit { get; init; }
}

/// <summary>The percentiles the runner reports and targets may name.</summary>
public static class Percentiles
{
    public static readonly (string Name, double Value)[] All = [("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p99.9", 99.9), ("max", 100)];

    public static IEnumerable<string> Names => All.Select(p => p.Name);

    public static double? Of(string name) => All.Where(p => p.Name == name).Select(p => (double?)p.Value).FirstOrDefault();
}
