using System.Diagnostics.Metrics;

namespace AspirePerf.Performance.Jobs;

/// <summary>The queue's OpenTelemetry instruments (meter <c>AspirePerf</c>); listed in docs/metrics.md.</summary>
public sealed class JobMetrics
{
    public const string MeterName = "AspirePerf";

    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _started;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _discarded;
    private readonly Counter<long> _cancelled;
    private readonly Histogram<double> _wait;
    private readonly Histogram<double> _duration;
    private volatile IReadOnlyList<JobDepth> _depth = [];

    public JobMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _enqueued = meter.CreateCounter<long>("aspireperf.jobs.enqueued", "{job}", "Jobs enqueued, by type and priority (duplicates of a unique key are not counted).");
        _started = meter.CreateCounter<long>("aspireperf.jobs.started", "{job}", "Attempts started, by type.");
        _completed = meter.CreateCounter<long>("aspireperf.jobs.completed", "{job}", "Attempts completed, by type.");
        _failed = meter.CreateCounter<long>("aspireperf.jobs.failed", "{job}", "Attempts that failed and will be retried, by type and reason (error, timeout).");
        _discarded = meter.CreateCounter<long>("aspireperf.jobs.discarded", "{job}", "Jobs discarded (attempts used up or unrecoverable), by type.");
        _cancelled = meter.CreateCounter<long>("aspireperf.jobs.cancelled", "{job}", "Running jobs stopped by a cancellation, by type.");
        var buckets = new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] };
        _wait = meter.CreateHistogram("aspireperf.jobs.wait", "s", "Time from a job being due (enqueued, scheduled time or retry time) to its attempt starting, by type.", advice: buckets);
        _duration = meter.CreateHistogram("aspireperf.jobs.duration", "s", "Run time of an attempt, by type and outcome (completed, failed, discarded, cancelled).", advice: buckets);
        meter.CreateObservableGauge("aspireperf.jobs.depth", () => _depth.Select(d =>
            new Measurement<long>(d.Count, new("state", d.State), new("priority", d.Priority))), "{job}",
            "Jobs in the table by state and priority, counted every Jobs:StatisticsInterval by each processor.");
    }

    public void Enqueued(string type, JobPriority priority, long count = 1) =>
        _enqueued.Add(count, new("type", type), new("priority", JobStates.Name(priority)));

    public void Started(string type, TimeSpan wait)
    {
        _started.Add(1, new KeyValuePair<string, object?>("type", type));
        _wait.Record(Math.Max(0, wait.TotalSeconds), new KeyValuePair<string, object?>("type", type));
    }

    public void Finished(string type, string outcome, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("type", type);
        switch (outcome)
        {
            case "completed": _completed.Add(1, tag); break;
            case "discarded": _discarded.Add(1, tag); break;
            case "cancelled": _cancelled.Add(1, tag); break;
            default: _failed.Add(1, tag, new("reason", outcome)); break;
        }
        _duration.Record(duration.TotalSeconds, tag, new("outcome", outcome is "error" or "timeout" ? "failed" : outcome));
    }

    public void Depth(IReadOnlyList<JobDepth> depth) => _depth = depth;
}
