using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AspirePerf.Performance.Orchestration;

/// <summary>
/// The orchestration's spans (an analysis span with a child per step: the Aspire dashboard's trace view shows the
/// waterfall) and instruments (meter <c>AspirePerf</c>; listed in docs/metrics.md).
/// </summary>
public sealed class OrchestrationTelemetry
{
    public static readonly ActivitySource Source = new("AspirePerf");

    private readonly Histogram<double> _stepDuration;
    private readonly Counter<long> _analyses;
    private int _running;
    private int _peak;

    public OrchestrationTelemetry(IMeterFactory meters, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(meters);
        Recent = new RecentAnalysisOutcomes(time ?? TimeProvider.System);
        var meter = meters.Create("AspirePerf");
        var buckets = new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] };
        _stepDuration = meter.CreateHistogram("aspireperf.analysis.step.duration", "s",
            "Run time of an analysis step, by analysis, step and status (succeeded, failed, timed_out).", advice: buckets);
        _analyses = meter.CreateCounter<long>("aspireperf.analysis.runs", "{analysis}",
            "Analyses finished, by analysis, mode (in-process, distributed) and status (complete, partial, failed).");
        meter.CreateObservableUpDownCounter("aspireperf.analysis.steps.running", () => Volatile.Read(ref _running), "{step}",
            "Analysis steps running in this process now.");
    }

    /// <summary>Steps running in this process now, and the most ever at once (tests check the global limit with it).</summary>
    public int Running => Volatile.Read(ref _running);

    public int PeakRunning => Volatile.Read(ref _peak);

    /// <summary>Analyses finished lately in this process, by outcome (the overall status counts failed and partial ones).</summary>
    public RecentAnalysisOutcomes Recent { get; }

    internal void StepStarted()
    {
        var now = Interlocked.Increment(ref _running);
        int seen;
        while (now > (seen = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, seen) != seen)
        {
        }
    }

    internal void StepEnded(string analysis, string step, StepStatus status, TimeSpan elapsed)
    {
        Interlocked.Decrement(ref _running);
        _stepDuration.Record(elapsed.TotalSeconds, new("analysis", analysis), new("step", step), new("status", Name(status)));
    }

    internal void AnalysisFinished(string analysis, string mode, AnalysisStatus status)
    {
        _analyses.Add(1, new("analysis", analysis), new("mode", mode), new("status", status.ToString().ToLowerInvariant()));
        Recent.Record(status);
    }

    public static string Name(StepStatus status) => status switch
    {
        StepStatus.TimedOut => "timed_out",
        _ => status.ToString().ToLowerInvariant(),
    };
}
