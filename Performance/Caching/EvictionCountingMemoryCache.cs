using Microsoft.Extensions.Caching.Memory;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// The L1 that HybridCache resolves from DI (<see cref="IMemoryCache"/>): a <see cref="MemoryCache"/> (size-limited by
/// <see cref="CachingServiceCollectionExtensions.AddAdaptiveCaching"/>) whose evictions are counted by reason. Hand-written because MemoryCache raises no cache-wide eviction event and no
/// package adds one; the only hook is a post-eviction callback per entry, so it is registered as each entry is
/// created. Writes and evictions pay for it; a lookup goes straight to the inner cache.
/// </summary>
public sealed class EvictionCountingMemoryCache(MemoryCache inner) : IMemoryCache
{
    /// <summary>The reasons counted, with the names used in metrics (<c>reason</c> tag) and statistics.</summary>
    public static IReadOnlyList<(EvictionReason Reason, string Name)> Reasons { get; } =
    [
        (EvictionReason.Capacity, "capacity"),
        (EvictionReason.Expired, "expired"),
        (EvictionReason.Removed, "removed"),
        (EvictionReason.Replaced, "replaced"),
        (EvictionReason.TokenExpired, "token_expired"),
    ];

    private static readonly PostEvictionDelegate OnEvicted = static (_, _, reason, state) => ((EvictionCountingMemoryCache)state!).Count(reason);

    private readonly long[] _evictions = new long[Enum.GetValues<EvictionReason>().Length];

    /// <summary>The cache itself, for what <see cref="IMemoryCache"/> does not offer: count, size, clearing.</summary>
    public MemoryCache Inner => inner;

    public ICacheEntry CreateEntry(object key) => inner.CreateEntry(key).RegisterPostEvictionCallback(OnEvicted, this);

    public bool TryGetValue(object key, out object? value) => inner.TryGetValue(key, out value);

    public void Remove(object key) => inner.Remove(key);

    /// <summary>Entries evicted for this reason so far; <see cref="EvictionReason.Capacity"/> includes writes refused because L1 was full.</summary>
    public long Evictions(EvictionReason reason) => Interlocked.Read(ref _evictions[(int)reason]);

    private void Count(EvictionReason reason)
    {
        if ((uint)reason < (uint)_evictions.Length)
        {
            Interlocked.Increment(ref _evictions[(int)reason]);
        }
    }

    public void Dispose() => inner.Dispose();
}
