using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;

namespace AspirePerf.Performance.Caching;

/// <summary>Running totals for <c>GET /api/v1/perf/cache</c>: hit ratio overall and per profile, cost saved.</summary>
public sealed class CacheStatistics(IMemoryCache memoryCache)
{
    private readonly ConcurrentDictionary<string, ProfileCounters> _profiles = new(StringComparer.Ordinal);
    private long _l1Bytes;
    private long _l1Writes;

    public long L1Entries => (memoryCache as MemoryCache)?.Count ?? 0;

    /// <summary>Entries × mean size of what was written to L1: HybridCache does not report sizes, so this estimates.</summary>
    public long L1EstimatedBytes
    {
        get
        {
            var writes = Interlocked.Read(ref _l1Writes);
            return writes == 0 ? 0 : L1Entries * (Interlocked.Read(ref _l1Bytes) / writes);
        }
    }

    /// <summary>The counters of one profile; callers keep the reference so recording needs no lookup.</summary>
    public ProfileCounters CountersFor(string profile) => _profiles.GetOrAdd(profile, _ => new ProfileCounters());

    public static void Record(ProfileCounters counters, CacheOutcome outcome, CacheTier tier, double costSavedMs)
    {
        ArgumentNullException.ThrowIfNull(counters);
        switch (outcome)
        {
            case CacheOutcome.Hit when tier == CacheTier.L1:
                Interlocked.Increment(ref counters.L1Hits);
                break;
            case CacheOutcome.Hit:
                Interlocked.Increment(ref counters.L2Hits);
                break;
            case CacheOutcome.Miss:
                Interlocked.Increment(ref counters.Misses);
                break;
            case CacheOutcome.Stale:
                Interlocked.Increment(ref counters.Stale);
                break;
            default:
                Interlocked.Increment(ref counters.Bypass);
                break;
        }
        if (costSavedMs > 0)
        {
            Interlocked.Add(ref counters.CostSavedMicroseconds, (long)(costSavedMs * 1000));
        }
    }

    internal IEnumerable<Measurement<long>> RequestMeasurements()
    {
        foreach (var (profile, c) in _profiles)
        {
            yield return new(Interlocked.Read(ref c.L1Hits), new("tier", "l1"), new("result", "hit"), new("profile", profile));
            yield return new(Interlocked.Read(ref c.L2Hits), new("tier", "l2"), new("result", "hit"), new("profile", profile));
            yield return new(Interlocked.Read(ref c.Misses), new("tier", "source"), new("result", "miss"), new("profile", profile));
            yield return new(Interlocked.Read(ref c.Stale), new("tier", "l1"), new("result", "stale"), new("profile", profile));
            yield return new(Interlocked.Read(ref c.Bypass), new("tier", "source"), new("result", "bypass"), new("profile", profile));
        }
    }

    internal IEnumerable<Measurement<double>> CostSavedMeasurements()
    {
        foreach (var (profile, c) in _profiles)
        {
            yield return new(Interlocked.Read(ref c.CostSavedMicroseconds) / 1_000_000.0, new KeyValuePair<string, object?>("profile", profile));
        }
    }

    public void RecordL1Write(long bytes)
    {
        Interlocked.Add(ref _l1Bytes, bytes);
        Interlocked.Increment(ref _l1Writes);
    }

    public CacheStatisticsSnapshot Snapshot(bool enabled)
    {
        var profiles = _profiles.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => p.Value.Snapshot(p.Key))
            .ToList();
        var hits = profiles.Sum(p => p.L1Hits + p.L2Hits);
        var lookups = profiles.Sum(p => p.L1Hits + p.L2Hits + p.Misses + p.Stale);
        return new CacheStatisticsSnapshot(enabled, lookups == 0 ? 0 : Math.Round((double)hits / lookups, 4),
            hits, profiles.Sum(p => p.Misses), profiles.Sum(p => p.Stale), profiles.Sum(p => p.Bypass),
            L1Entries, L1EstimatedBytes, Math.Round(profiles.Sum(p => p.CostSavedMs), 1), profiles);
    }

    public sealed class ProfileCounters
    {
        internal long L1Hits;
        internal long L2Hits;
        internal long Misses;
        internal long Stale;
        internal long Bypass;
        internal long CostSavedMicroseconds;

        internal ProfileStatistics Snapshot(string name)
        {
            var hits = Interlocked.Read(ref L1Hits) + Interlocked.Read(ref L2Hits);
            var lookups = hits + Interlocked.Read(ref Misses) + Interlocked.Read(ref Stale);
            return new(name, lookups == 0 ? 0 : Math.Round((double)hits / lookups, 4), L1Hits, L2Hits, Misses, Stale, Bypass,
                Math.Round(Interlocked.Read(ref CostSavedMicroseconds) / 1000.0, 1));
        }
    }
}

public sealed record CacheStatisticsSnapshot(
    bool Enabled,
    double HitRatio,
    long Hits,
    long Misses,
    long Stale,
    long Bypass,
    long L1Entries,
    long L1EstimatedBytes,
    double CostSavedMs,
    IReadOnlyList<ProfileStatistics> Profiles);

public sealed record ProfileStatistics(string Profile, double HitRatio, long L1Hits, long L2Hits, long Misses, long Stale, long Bypass, double CostSavedMs);
