using System.Collections.Concurrent;

namespace AspirePerf.Performance.Orchestration;

/// <summary>
/// How long each step of each analysis takes, as this process has measured it: an exponentially weighted moving average
/// (EWMA) of the step's measured durations, per (analysis, step), in memory. Its one job is the estimate; what the
/// scheduler makes of it is <see cref="CriticalPathScheduler"/>'s. The answers never depend on it.
/// </summary>
public sealed class StepCostModel
{
    /// <summary>The newest measurement's weight: an estimate follows a change of speed within a few runs and one outlier moves it by 30 %.</summary>
    public const double NewestWeight = 0.3;

    /// <summary>Every step's weight while nothing of its analysis has been measured: all equal.</summary>
    public const double EqualWeight = 1;

    private readonly ConcurrentDictionary<(string Analysis, string Step), double> _ms = new();

    /// <summary>Folds one measured duration into the step's estimate (the first one is taken as it is).</summary>
    public void Observe(string analysisId, string stepId, double elapsedMs)
    {
        ArgumentNullException.ThrowIfNull(analysisId);
        ArgumentNullException.ThrowIfNull(stepId);
        if (!double.IsFinite(elapsedMs) || elapsedMs < 0)
        {
            return;
        }
        _ms.AddOrUpdate((analysisId, stepId), elapsedMs, (_, old) => old + NewestWeight * (elapsedMs - old));
    }

    /// <summary>The step's estimate in ms, or null before its first measurement.</summary>
    public double? Estimate(string analysisId, string stepId) => _ms.TryGetValue((analysisId, stepId), out var ms) ? ms : null;

    /// <summary>
    /// Every step's estimate in ms. A step not measured yet weighs the mean of its analysis's measured steps; when none
    /// is measured, every step weighs <see cref="EqualWeight"/>, so the longest chain is the one with the most steps.
    /// </summary>
    public IReadOnlyDictionary<string, double> EstimatesFor(AnalysisDefinition analysis)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        var measured = analysis.Steps.Select(s => Estimate(analysis.Id, s.Id)).OfType<double>().ToList();
        var fallback = measured.Count > 0 ? measured.Average() : EqualWeight;
        var estimates = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var step in analysis.Steps)
        {
            estimates[step.Id] = Estimate(analysis.Id, step.Id) ?? fallback;
        }
        return estimates;
    }

    /// <summary>
    /// Whether a step's report measures its work: it succeeded and computed its answer (a cache hit or a stale value
    /// took no query time, and would teach the model that a heavy query is free).
    /// </summary>
    public static bool Measures(StepReport report) =>
        report is { Status: StepStatus.Succeeded, ElapsedMs: not null } && report.Cache is not ("hit" or "stale");
}
