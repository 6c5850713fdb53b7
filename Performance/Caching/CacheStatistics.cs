using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Caching;

/// <summary>Running totals for <c>GET /api/v1/perf/cache</c>: hit ratio overall and per profile, cost saved, L1 size and evictions.</summary>
public sealed class CacheStatistics(EvictionCountingMemoryCache l1, IOptions<CachingOptions> options)
{
    private readonly ConcurrentDictionary<string, ProfileCounters> _profiles = new(StringComparer.Ordinal);

    public long L1Entries => l1.Inner.Count;

    /// <summary>The sizes HybridCache gave the L1 entries (their serialized lengths), as MemoryCache counts them against its limit.</summary>
    public long L1EstimatedBytes => l1.Inner.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;

    public long L1SizeLimitBytes => options.Value.L1.SizeLimitBytes;

    /// <summary>The counters of one profile; callers keep the reference so recording needs no lookup.</summary>
    public ProfileCounters CountersFor(string profile) =>
        _profiles.GetOrAdd(profile, _ => new ProfileCounters(Interlocked.Increment(ref s_nextSlot)));

    public static void Record(ProfileCounters counters, CacheOutcome outcome, CacheTier tier, double costSavedMs)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var field = outcome switch
        {
            CacheOutcome.Hit when tier == CacheTier.L1 => L1HitsField,
            CacheOutcome.Hit => L2HitsField,
            CacheOutcome.Miss => MissesField,
            CacheOutcome.Stale => StaleField,
            _ => BypassField,
        };
        Add(counters.Slot, field, 1);
        if (costSavedMs > 0)
        {
            Add(counters.Slot, CostSavedField, (long)(costSavedMs * 1000));
        }
    }

    /// <summary>The L1-hit path's own recording: one cell array, both counters, no outcome switch.</summary>
    public static void RecordL1Hit(ProfileCounters counters, double costSavedMs)
    {
        var cells = t_cells ?? RegisterThread();
        var baseIndex = counters.Slot * Fields;
        var array = cells.Cells;
        if (baseIndex + CostSavedField >= array.Length)
        {
            Add(counters.Slot, L1HitsField, 1);
            Add(counters.Slot, CostSavedField, (long)(costSavedMs * 1000));
            return;
        }
        array[baseIndex + L1HitsField]++;
        array[baseIndex + CostSavedField] += (long)(costSavedMs * 1000);
    }

    // Per-thread counter cells. A cache hit is ~50 ns; two interlocked adds on shared counters cost half as much
    // again and contend across cores. Each thread increments its own cells without atomics; readers add the cells of
    // every thread (aligned 64-bit reads are atomic; a total can lag a running increment, never tear).
    private const int Fields = 6;
    private const int L1HitsField = 0, L2HitsField = 1, MissesField = 2, StaleField = 3, BypassField = 4, CostSavedField = 5;
    private static int s_nextSlot = -1;
    private static readonly List<ThreadCells> AllCells = [];
    [ThreadStatic] private static ThreadCells? t_cells;

    private sealed class ThreadCells
    {
        public long[] Cells = new long[16 * Fields];
    }

    private static void Add(int slot, int field, long amount)
    {
        var cells = t_cells ?? RegisterThread();
        var index = slot * Fields + field;
        var array = cells.Cells;
        if (index >= array.Length)
        {
            array = new long[Math.Max(array.Length * 2, (slot + 1) * Fields)];
            cells.Cells.CopyTo(array, 0);
            Volatile.Write(ref cells.Cells, array);
        }
        array[index] += amount;
    }

    private static ThreadCells RegisterThread()
    {
        var cells = new ThreadCells();
        lock (AllCells)
        {
            AllCells.Add(cells);
        }
        return t_cells = cells;
    }

    private static long Sum(int slot, int field)
    {
        ThreadCells[] all;
        lock (AllCells)
        {
            all = [.. AllCells];
        }
        var index = slot * Fields + field;
        long total = 0;
        foreach (var cells in all)
        {
            var array = Volatile.Read(ref cells.Cells);
            if (index < array.Length)
            {
                total += Volatile.Read(ref array[index]);
            }
        }
        return total;
    }

    internal IEnumerable<Measurement<long>> RequestMeasurements()
    {
        foreach (var (profile, c) in _profiles)
        {
            yield return new(Sum(c.Slot, L1HitsField), new("tier", "l1"), new("result", "hit"), new("profile", profile));
            yield return new(Sum(c.Slot, L2HitsField), new("tier", "l2"), new("result", "hit"), new("profile", profile));
            yield return new(Sum(c.Slot, MissesField), new("tier", "source"), new("result", "miss"), new("profile", profile));
            yield return new(Sum(c.Slot, StaleField), new("tier", "l1"), new("result", "stale"), new("profile", profile));
            yield return new(Sum(c.Slot, BypassField), new("tier", "source"), new("result", "bypass"), new("profile", profile));
        }
    }

    internal IEnumerable<Measurement<double>> CostSavedMeasurements()
    {
        foreach (var (profile, c) in _profiles)
        {
            yield return new(Sum(c.Slot, CostSavedField) / 1_000_000.0, new KeyValuePair<string, object?>("profile", profile));
        }
    }

    internal IEnumerable<Measurement<long>> EvictionMeasurements()
    {
        foreach (var (reason, name) in EvictionCountingMemoryCache.Reasons)
        {
            yield return new(l1.Evictions(reason), new KeyValuePair<string, object?>("reason", name));
        }
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
            L1Entries, L1EstimatedBytes, L1SizeLimitBytes, EvictionCountingMemoryCache.Reasons.ToDictionary(r => r.Name, r => l1.Evictions(r.Reason)),
            Math.Round(profiles.Sum(p => p.CostSavedMs), 1), profiles);
    }

    /// <summary>A profile's place in the per-thread counter cells.</summary>
    public sealed class ProfileCounters(int slot)
    {
        internal int Slot { get; } = slot;

        internal ProfileStatistics Snapshot(string name)
        {
            var l1 = Sum(Slot, L1HitsField);
            var l2 = Sum(Slot, L2HitsField);
            var misses = Sum(Slot, MissesField);
            var stale = Sum(Slot, StaleField);
            var lookups = l1 + l2 + misses + stale;
            return new(name, lookups == 0 ? 0 : Math.Round((double)(l1 + l2) / lookups, 4), l1, l2, misses, stale,
                Sum(Slot, BypassField), Math.Round(Sum(Slot, CostSavedField) / 1000.0, 1));
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
    long L1SizeLimitBytes,
    IReadOnlyDictionary<string, long> L1Evictions,
    double CostSavedMs,
    IReadOnlyList<ProfileStatistics> Profiles);

public sealed record ProfileStatistics(string Profile, double HitRatio, long L1Hits, long L2Hits, long Misses, long Stale, long Bypass, double CostSavedMs);
