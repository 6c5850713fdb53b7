using System.Collections.Concurrent;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// When this node applied each invalidation (its own or another node's, as the backplane delivered it): the last time
/// of every tag, of "everything", and of recent keys. A value whose computation began before a matching invalidation may
/// predate the change it stands for, so it is neither stored nor served. HybridCache keeps tag times of its own, but
/// dates an entry by when it was written, not by when its computation began, and exposes neither.
/// </summary>
public sealed class InvalidationRecord(TimeProvider time)
{
    /// <summary>Key records are kept this long (the longest any cached value can live) and at most this many.</summary>
    public static readonly TimeSpan KeyHorizon = TimeSpan.FromHours(7);

    public const int MaxKeys = 100_000;

    private readonly ConcurrentDictionary<string, long> _tags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _keys = new(StringComparer.Ordinal);
    private long _all;

    public void Tag(string tag) => _tags[tag] = Now();

    public void Key(string key)
    {
        if (_keys.Count >= MaxKeys)
        {
            var horizon = Now() - KeyHorizon.Ticks;
            foreach (var (old, at) in _keys)
            {
                if (at < horizon)
                {
                    _keys.TryRemove(old, out _);
                }
            }
            if (_keys.Count >= MaxKeys)
            {
                // More recent key invalidations than the record holds: widen one of them to everything, which is safe.
                All();
                _keys.Clear();
            }
        }
        _keys[key] = Now();
    }

    public void All() => Interlocked.Exchange(ref _all, Now());

    /// <summary>Whether the key, one of its tags or everything was invalidated at or after <paramref name="sinceTicks"/> (UTC ticks).</summary>
    public bool InvalidatedSince(CacheRequest request, long sinceTicks)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Volatile.Read(ref _all) >= sinceTicks || (_keys.TryGetValue(request.Key, out var key) && key >= sinceTicks))
        {
            return true;
        }
        foreach (var tag in request.Tags)
        {
            if (_tags.TryGetValue(tag, out var at) && at >= sinceTicks)
            {
                return true;
            }
        }
        return false;
    }

    private long Now() => time.GetUtcNow().UtcTicks;
}
