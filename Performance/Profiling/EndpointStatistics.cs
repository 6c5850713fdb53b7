using System.Collections.Concurrent;
using HdrHistogram;

namespace AspirePerf.Performance.Profiling;

public sealed record EndpointStatisticsEntry(
    string Route,
    long Count,
    double ErrorRate,
    double MeanMs,
    double P50Ms,
    double P90Ms,
    double P95Ms,
    double P99Ms,
    double MaxMs,
    double SqlCommandsPerRequest);

/// <summary>
/// Per-route request statistics over a sliding window: <see cref="Buckets"/> time buckets of
/// <see cref="BucketSeconds"/> each, so the window moves in steps and old requests age out. Latencies go into
/// HdrHistogram (microsecond resolution, 3 significant digits) for exact-enough percentiles at any rate.
/// </summary>
public sealed class EndpointStatistics(TimeProvider time)
{
    public const int Buckets = 6;
    public const int BucketSeconds = 10;

    private readonly ConcurrentDictionary<(string Method, string Route), RouteWindow> _routes = new();

    public static TimeSpan Window => TimeSpan.FromSeconds(Buckets * BucketSeconds);

    public void Record(string method, string route, int statusCode, double durationMs, int sqlCommands)
    {
        _routes.GetOrAdd((method, route), static _ => new RouteWindow()).Record(CurrentSlot(), statusCode, durationMs, sqlCommands);
    }

    public IReadOnlyList<EndpointStatisticsEntry> Snapshot()
    {
        var slot = CurrentSlot();
        return [.. _routes.Select(r => r.Value.Snapshot($"{r.Key.Method} {r.Key.Route}", slot)).OfType<EndpointStatisticsEntry>()
            .OrderBy(e => e.Route, StringComparer.Ordinal)];
    }

    /// <summary>Every route's requests merged into one entry (route <paramref name="name"/>): the overall rate, error rate and
    /// percentiles (merged histograms, not an average of per-route percentiles). Null when the window is empty.</summary>
    public EndpointStatisticsEntry? Total(string name = "all")
    {
        var slot = CurrentSlot();
        var merged = new RouteWindow.Totals();
        foreach (var route in _routes.Values)
        {
            route.AddTo(merged, slot);
        }
        return merged.ToEntry(name);
    }

    private long CurrentSlot() => time.GetUtcNow().ToUnixTimeSeconds() / BucketSeconds;

    private sealed class RouteWindow
    {
        private readonly Bucket[] _buckets = [.. Enumerable.Range(0, Buckets).Select(_ => new Bucket())];

        public void Record(long slot, int statusCode, double durationMs, int sqlCommands)
        {
            var bucket = _buckets[slot % Buckets];
            lock (bucket)
            {
                if (bucket.Slot != slot)
                {
                    bucket.Reset(slot);
                }
                bucket.Histogram.RecordValue(Math.Max(1, (long)(durationMs * 1000)));
                bucket.Errors += statusCode >= 500 ? 1 : 0;
                bucket.SqlCommands += sqlCommands;
            }
        }

        public EndpointStatisticsEntry? Snapshot(string route, long slot)
        {
            var totals = new Totals();
            AddTo(totals, slot);
            return totals.ToEntry(route);
        }

        public void AddTo(Totals totals, long slot)
        {
            foreach (var bucket in _buckets)
            {
                lock (bucket)
                {
                    if (bucket.Slot > slot - Buckets && bucket.Slot <= slot)
                    {
                        totals.Histogram.Add(bucket.Histogram);
                        totals.Errors += bucket.Errors;
                        totals.SqlCommands += bucket.SqlCommands;
                    }
                }
            }
        }

        public sealed class Totals
        {
            public readonly LongHistogram Histogram = new(TimeStamp.Minutes(10), 3);
            public long Errors;
            public long SqlCommands;

            public EndpointStatisticsEntry? ToEntry(string route)
            {
                var count = Histogram.TotalCount;
                if (count == 0)
                {
                    return null;
                }
                return new EndpointStatisticsEntry(route, count, Math.Round((double)Errors / count, 4), Math.Round(Histogram.GetMean() / 1000, 3),
                    Ms(50), Ms(90), Ms(95), Ms(99), Math.Round(Histogram.GetMaxValue() / 1000.0, 3), Math.Round((double)SqlCommands / count, 2));
            }

            private double Ms(double percentile) => Math.Round(Histogram.GetValueAtPercentile(percentile) / 1000.0, 3);
        }
    }

    private sealed class Bucket
    {
        public long Slot = -1;
        public LongHistogram Histogram = new(TimeStamp.Minutes(10), 3);
        public long Errors;
        public long SqlCommands;

        public void Reset(long slot)
        {
            Slot = slot;
            Histogram.Reset();
            Errors = 0;
            SqlCommands = 0;
        }
    }
}
