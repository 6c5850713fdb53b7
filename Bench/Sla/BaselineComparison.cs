using System.Globalization;
using System.Text;
using Perfolizer.Mathematics.SignificanceTesting.Base;
using Perfolizer.Mathematics.SignificanceTesting.MannWhitney;
using Perfolizer.Metrology;

namespace AspirePerf.Bench.Sla;

/// <summary>A saved baseline: the per-run results of at least <see cref="BaselineComparison.MinimumRuns"/> runs of the suite.</summary>
public sealed record SlaBaseline(string Name, DateTimeOffset SavedAt, string Api, int ScenarioFileVersion, IReadOnlyList<SlaRunResult> Runs);

/// <param name="Verdict">improved, regressed or no change.</param>
public sealed record MetricComparison(string Scenario, string Metric, double BaselineMedian, double CurrentMedian, double Ratio, double PValue, string Verdict);

/// <summary>
/// Baseline against current, metric by metric: a two-sided Mann–Whitney U test on the per-run values (Perfolizer's exact
/// test at these sample sizes) and a minimum effect on the medians. A change is reported only when it is both
/// significant (p &lt; alpha) and large enough (the median moved by more than the minimum effect): either alone is noise.
/// </summary>
public static class BaselineComparison
{
    public const int MinimumRuns = 5;
    public const string Improved = "improved";
    public const string Regressed = "regressed";
    public const string NoChange = "no change";

    /// <summary>The metrics compared, all "lower is better": scenario latency percentiles, error rate, each endpoint's p95.</summary>
    public static IEnumerable<(string Scenario, string Metric, double Value)> Metrics(SlaRunResult run)
    {
        ArgumentNullException.ThrowIfNull(run);
        foreach (var s in run.Scenarios)
        {
            foreach (var p in new[] { "p50", "p90", "p95", "p99" })
            {
                yield return (s.Name, p, s.Latency[p]);
            }
            yield return (s.Name, "errorRate", s.ErrorRate);
            foreach (var e in s.Endpoints)
            {
                yield return (s.Name, $"{e.Name} p95", e.Latency.P95);
            }
        }
    }

    public static IReadOnlyList<MetricComparison> Compare(IReadOnlyList<SlaRunResult> baseline, IReadOnlyList<SlaRunResult> current, double minEffect, double alpha)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(current);
        var before = baseline.SelectMany(Metrics).ToLookup(m => (m.Scenario, m.Metric), m => m.Value);
        var after = current.SelectMany(Metrics).ToLookup(m => (m.Scenario, m.Metric), m => m.Value);
        var comparisons = new List<MetricComparison>();
        foreach (var key in after.Select(g => g.Key).Where(k => before.Contains(k)))
        {
            double[] x = [.. before[key]], y = [.. after[key]];
            comparisons.Add(CompareOne(key.Scenario, key.Metric, x, y, minEffect, alpha));
        }
        return comparisons;
    }

    public static MetricComparison CompareOne(string scenario, string metric, double[] baseline, double[] current, double minEffect, double alpha)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(current);
        var (m0, m1) = (Median(baseline), Median(current));
        var p = baseline.Concat(current).Distinct().Count() == 1 ? 1.0
            : (double)MannWhitneyTest.Instance.Perform(new Pragmastat.Sample(baseline), new Pragmastat.Sample(current), AlternativeHypothesis.TwoSides, Threshold.Zero).PValue;
        // Ratios of zero medians say nothing (an error rate of 0 both times): compare differences in absolute terms then.
        var ratio = m0 > 0 ? m1 / m0 : m1 > 0 ? double.PositiveInfinity : 1;
        var effect = m0 > 0 ? Math.Abs(ratio - 1) > minEffect : Math.Abs(m1 - m0) > 1e-3;
        var verdict = p < alpha && effect ? (m1 > m0 ? Regressed : Improved) : NoChange;
        return new MetricComparison(scenario, metric, m0, m1, Math.Round(ratio, 4), Math.Round(p, 4), verdict);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static string Markdown(string baselineName, IReadOnlyList<MetricComparison> comparisons, double minEffect, double alpha)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(inv, $"## Against baseline '{baselineName}': {comparisons.Count(c => c.Verdict == Regressed)} regressed, {comparisons.Count(c => c.Verdict == Improved)} improved, {comparisons.Count(c => c.Verdict == NoChange)} no change");
        md.AppendLine();
        md.AppendLine(inv, $"Two-sided Mann–Whitney U on per-run values, alpha {alpha}, minimum effect {minEffect:P0} on the median.");
        md.AppendLine();
        md.AppendLine("| scenario | metric | baseline median | current median | ratio | p | verdict |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---|");
        foreach (var c in comparisons.OrderBy(c => c.Verdict == NoChange).ThenBy(c => c.Scenario, StringComparer.Ordinal))
        {
            md.AppendLine(inv, $"| {c.Scenario} | {c.Metric} | {c.BaselineMedian:0.###} | {c.CurrentMedian:0.###} | {c.Ratio:0.###} | {c.PValue:0.####} | {(c.Verdict == NoChange ? c.Verdict : "**" + c.Verdict + "**")} |");
        }
        return md.ToString();
    }
}
