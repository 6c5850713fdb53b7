using System.Globalization;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace AspirePerf.Bench.Sla;

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P90, double P95, double P99, double P999, double Max, double Mean)
{
    public static LatencySummary From(HistogramBase histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        double Ms(double percentile) => histogram.TotalCount == 0 ? 0 : Math.Round(histogram.GetValueAtPercentile(percentile) / 1000.0, 3);
        return new(histogram.TotalCount, Ms(50), Ms(90), Ms(95), Ms(99), Ms(99.9), histogram.TotalCount == 0 ? 0 : Math.Round(histogram.GetMaxValue() / 1000.0, 3),
            histogram.TotalCount == 0 ? 0 : Math.Round(histogram.GetMean() / 1000.0, 3));
    }

    /// <summary>A percentile by the names targets use (p50 … p99.9, max).</summary>
    public double this[string name] => name switch
    {
        "p50" => P50,
        "p90" => P90,
        "p95" => P95,
        "p99" => P99,
        "p99.9" => P999,
        "max" => Max,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown percentile."),
    };
}

public sealed record EndpointResult(string Name, LatencySummary Latency, LatencySummary ServiceTime, IReadOnlyDictionary<string, long> Outcomes, long Errors);

/// <summary>Whether the scenario's targets and error limit held, and each breach in words.</summary>
public sealed record SlaVerdict(bool Holds, IReadOnlyList<string> Breaches);

public sealed record ScenarioResult(
    string Name,
    string Model,
    double AskedRate,
    int Users,
    double DurationSeconds,
    long Scheduled,
    long Sent,
    long Completed,
    long Dropped,
    long LateStarts,
    double AchievedRate,
    double Throughput,
    double ErrorRate,
    IReadOnlyDictionary<string, long> Outcomes,
    LatencySummary Latency,
    LatencySummary ServiceTime,
    IReadOnlyList<EndpointResult> Endpoints,
    IReadOnlyDictionary<string, double> Targets,
    double MaxErrorRate,
    SlaVerdict Sla,
    ResourceUsage? Resources)
{
    public static ScenarioResult From(ScenarioRecording recording, ResourceUsage? resources)
    {
        ArgumentNullException.ThrowIfNull(recording);
        var scenario = recording.Scenario;
        var seconds = recording.Duration.TotalSeconds;
        var outcomes = recording.Endpoints.Values.SelectMany(e => e.Outcomes).GroupBy(o => o.Key).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(o => o.Value), StringComparer.Ordinal);
        var errors = recording.Endpoints.Values.Sum(e => e.Errors);
        var errorRate = recording.Completed == 0 ? 0 : Math.Round((double)errors / recording.Completed, 5);
        var latency = LatencySummary.From(recording.Total(e => e.Latency));
        var breaches = scenario.Targets.Where(t => latency[t.Key] > t.Value)
            .Select(t => $"{t.Key} {latency[t.Key].ToString("0.0", CultureInfo.InvariantCulture)} ms > {t.Value.ToString(CultureInfo.InvariantCulture)} ms").ToList();
        if (errorRate > scenario.MaxErrorRate)
        {
            breaches.Add($"error rate {errorRate:P2} > {scenario.MaxErrorRate:P2}");
        }
        if (scenario.Model == LoadModel.Open && recording.Dropped > 0)
        {
            breaches.Add($"{recording.Dropped} requests dropped (more than {scenario.MaxInFlight} in flight): the server did not keep up with {scenario.Rate}/s");
        }
        if (recording.Completed == 0)
        {
            breaches.Add("no request completed");
        }
        return new ScenarioResult(scenario.Name, scenario.Model.ToString().ToLowerInvariant(), scenario.Model == LoadModel.Open ? scenario.Rate : 0,
            scenario.Model == LoadModel.Closed ? scenario.Users : 0, seconds, recording.Scheduled, recording.Sent, recording.Completed,
            recording.Dropped, recording.Late, Math.Round(recording.Sent / seconds, 2), Math.Round(recording.Completed / seconds, 2), errorRate, outcomes,
            latency, LatencySummary.From(recording.Total(e => e.ServiceTime)),
            [.. recording.Endpoints.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new EndpointResult(e.Key, LatencySummary.From(e.Value.Latency),
                LatencySummary.From(e.Value.ServiceTime), new SortedDictionary<string, long>(e.Value.Outcomes, StringComparer.Ordinal), e.Value.Errors))],
            scenario.Targets, scenario.MaxErrorRate, new SlaVerdict(breaches.Count == 0, breaches), resources);
    }
}

/// <summary>One run of the suite: the JSON document <c>result.json</c> (schema in docs/sla.md).</summary>
public sealed record SlaRunResult(
    int SchemaVersion,
    DateTimeOffset StartedAt,
    string Api,
    int ScenarioFileVersion,
    int Seed,
    int Run,
    IReadOnlyList<ScenarioResult> Scenarios)
{
    public const int CurrentSchema = 1;

    public bool SlaHolds => Scenarios.All(s => s.Sla.Holds);
}

/// <summary>Writes a run's four outputs: JSON, a Markdown summary, HdrHistogram percentile distributions and a latency-percentile chart.</summary>
public static class SlaReport
{
    public static void WriteJson(string path, object value) =>
        File.WriteAllText(path, JsonSerializer.Serialize(value, SlaScenarioFile.Json));

    /// <summary>HdrHistogram's own percentile-distribution text (plottable with its tools), values in ms.</summary>
    public static void WriteDistribution(string path, HistogramBase histogram)
    {
        using var writer = new StreamWriter(path);
        histogram.OutputPercentileDistribution(writer, 5, 1000.0, false);
    }

    public static string Markdown(SlaRunResult run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine(inv, $"## SLA run {run.Run}: {run.StartedAt:yyyy-MM-dd HH:mm} UTC against {run.Api} (scenarios v{run.ScenarioFileVersion}, seed {run.Seed})");
        md.AppendLine();
        md.AppendLine("Latency from each request's intended start (coordinated omission corrected), ms.");
        md.AppendLine();
        md.AppendLine("| scenario | model | asked /s | achieved /s | done | dropped | late | errors | p50 | p90 | p95 | p99 | p99.9 | max | SLA |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var s in run.Scenarios)
        {
            var l = s.Latency;
            md.AppendLine(inv, $"| {s.Name} | {s.Model}{(s.Users > 0 ? $" ({s.Users} users)" : "")} | {(s.AskedRate > 0 ? s.AskedRate.ToString("0.#", inv) : "—")} | {s.AchievedRate:0.0} | {s.Completed} | {s.Dropped} | {s.LateStarts} | {s.ErrorRate:P2} | {l.P50:0.0} | {l.P90:0.0} | {l.P95:0.0} | {l.P99:0.0} | {l.P999:0.0} | {l.Max:0.0} | {(s.Sla.Holds ? "holds" : "**breached**: " + string.Join("; ", s.Sla.Breaches))} |");
        }
        foreach (var s in run.Scenarios)
        {
            md.AppendLine();
            md.AppendLine(inv, $"### {s.Name}: targets {string.Join(", ", s.Targets.Select(t => $"{t.Key} < {t.Value} ms"))}, errors ≤ {s.MaxErrorRate:P1}");
            md.AppendLine();
            md.AppendLine("| endpoint | done | p50 | p95 | p99 | max | service p95 | outcomes |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
            foreach (var e in s.Endpoints)
            {
                md.AppendLine(inv, $"| {e.Name} | {e.Latency.Count} | {e.Latency.P50:0.0} | {e.Latency.P95:0.0} | {e.Latency.P99:0.0} | {e.Latency.Max:0.0} | {e.ServiceTime.P95:0.0} | {string.Join(", ", e.Outcomes.Select(o => $"{o.Key}: {o.Value}"))} |");
            }
            if (s.Resources is { } r)
            {
                md.AppendLine();
                md.AppendLine("| process | count | CPU % of a core (mean / max) | memory MB (PSS, max) |");
                md.AppendLine("|---|---:|---:|---:|");
                foreach (var p in r.Processes)
                {
                    md.AppendLine(inv, $"| {p.Name} | {p.Processes} | {p.CpuPercentMean:0.0} / {p.CpuPercentMax:0.0} | {p.MemoryMbMax:0} |");
                }
                if (r.Pool is { } pool)
                {
                    md.AppendLine();
                    md.AppendLine(inv, $"Npgsql pool connections in use: mean {pool.UsedMean:0.0}, max {pool.UsedMax:0} ({string.Join(", ", pool.Sources)}).");
                }
            }
        }
        return md.ToString();
    }

    /// <summary>Latency by percentile (HdrHistogram's plot: x is 1 / (1 − percentile), log scale), one line per scenario.</summary>
    public static void WriteChart(string path, IReadOnlyList<(string Name, HistogramBase Histogram)> series, string title)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = new ScottPlot.Plot();
        foreach (var (name, histogram) in series.Where(s => s.Histogram.TotalCount > 0))
        {
            var points = histogram.Percentiles(5).Where(p => p.Percentile < 100).Select(p => (X: Math.Log10(100 / (100 - p.Percentile)), Y: p.ValueIteratedTo / 1000.0)).ToList();
            var line = plot.Add.ScatterLine(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            line.LegendText = name;
            line.LineWidth = 2;
        }
        string[] labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. labels.Select((_, i) => (double)i)], labels);
        plot.Axes.Bottom.Label.Text = "percentile";
        plot.Axes.Left.Label.Text = "latency from intended start (ms)";
        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, 1000, 600);
    }
}
