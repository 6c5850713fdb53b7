using System.Diagnostics.Metrics;

namespace AspirePerf.Performance.Caching;

/// <summary>The cache's OpenTelemetry instruments (meter <c>AspirePerf</c>); listed in docs/metrics.md.</summary>
public sealed class CacheMetrics
{
    public const string MeterName = "AspirePerf";

    /// <summary>One L1 hit in this many has its latency recorded; every other lookup always is.</summary>
    public const int L1LatencySampling = 16;

    private readonly Histogram<double> _duration;
    private readonly Counter<long> _invalidations;
    private readonly Counter<long> _l2Failures;

    public CacheMetrics(IMeterFactory meterFactory, CacheStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(statistics);
        var meter = meterFactory.Create(MeterName);
        // Counts and cost saved are read from CacheStatistics' own counters when exported, so an L1 hit pays for no
        // metric update; its latency is sampled (1 in L1LatencySampling). See docs/metrics.md.
        meter.CreateObservableCounter("aspireperf.cache.requests", statistics.RequestMeasurements, "{request}",
            "Cache lookups by tier (l1, l2, source), result (hit, miss, stale, bypass) and profile.");
        meter.CreateObservableCounter("aspireperf.cache.cost_saved", statistics.CostSavedMeasurements, "s",
            "Measured computation time that cache hits avoided, by profile.");
        _duration = meter.CreateHistogram<double>("aspireperf.cache.duration", "s",
            "Time to answer a cache lookup, by tier and result (L1 hits sampled 1 in 16).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] });
        _invalidations = meter.CreateCounter<long>("aspireperf.cache.invalidations", "{invalidation}",
            "Invalidations by kind (key, tag, all) and origin (local, remote).");
        _l2Failures = meter.CreateCounter<long>("aspireperf.cache.l2.failures", "{failure}",
            "Redis (L2) operations that failed, timed out or were skipped by the open circuit.");
        meter.CreateObservableGauge("aspireperf.cache.l1.entries", () => statistics.L1Entries, "{entry}", "Entries in the in-process (L1) cache.");
        meter.CreateObservableGauge("aspireperf.cache.l1.size", () => statistics.L1EstimatedBytes, "By", "Estimated bytes held by the L1 cache.");
        meter.CreateObservableGauge("aspireperf.cache.l1.size_limit", () => statistics.L1SizeLimitBytes, "By", "The L1 cache's size limit (Caching:L1:SizeLimitBytes).");
        meter.CreateObservableCounter("aspireperf.cache.l1.evictions", statistics.EvictionMeasurements, "{eviction}",
            "L1 entries evicted or refused, by reason (capacity, expired, removed, replaced, token_expired).");
    }

    public bool LatencyEnabled => _duration.Enabled;

    public void Latency(string tier, string result, TimeSpan elapsed) =>
        _duration.Record(elapsed.TotalSeconds, new("tier", tier), new("result", result));

    public void Invalidated(string kind, string origin) => _invalidations.Add(1, new("kind", kind), new("origin", origin));

    public void L2Failed(string reason) => _l2Failures.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
