using System.Diagnostics.Metrics;

namespace AspirePerf.Performance.Caching;

/// <summary>The cache's OpenTelemetry instruments (meter <c>AspirePerf</c>); listed in docs/metrics.md.</summary>
public sealed class CacheMetrics
{
    public const string MeterName = "AspirePerf";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _invalidations;
    private readonly Counter<double> _costSaved;
    private readonly Counter<long> _l2Failures;

    public CacheMetrics(IMeterFactory meterFactory, CacheStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(statistics);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("aspireperf.cache.requests", "{request}",
            "Cache lookups by tier (l1, l2, source), result (hit, miss, stale, bypass) and profile.");
        _duration = meter.CreateHistogram<double>("aspireperf.cache.duration", "s",
            "Time to answer a cache lookup, by tier and result.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] });
        _invalidations = meter.CreateCounter<long>("aspireperf.cache.invalidations", "{invalidation}",
            "Invalidations by kind (key, tag, all) and origin (local, remote).");
        _costSaved = meter.CreateCounter<double>("aspireperf.cache.cost_saved", "s",
            "Measured computation time that cache hits avoided.");
        _l2Failures = meter.CreateCounter<long>("aspireperf.cache.l2.failures", "{failure}",
            "Redis (L2) operations that failed, timed out or were skipped by the open circuit.");
        meter.CreateObservableGauge("aspireperf.cache.l1.entries", () => statistics.L1Entries, "{entry}", "Entries in the in-process (L1) cache.");
        meter.CreateObservableGauge("aspireperf.cache.l1.size", () => statistics.L1EstimatedBytes, "By", "Estimated bytes held by the L1 cache.");
    }

    public void Lookup(string tier, string result, string profile, TimeSpan elapsed)
    {
        _requests.Add(1, new("tier", tier), new("result", result), new("profile", profile));
        _duration.Record(elapsed.TotalSeconds, new("tier", tier), new("result", result));
    }

    public void CostSaved(double milliseconds) => _costSaved.Add(milliseconds / 1000);

    public void Invalidated(string kind, string origin) => _invalidations.Add(1, new("kind", kind), new("origin", origin));

    public void L2Failed(string reason) => _l2Failures.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
