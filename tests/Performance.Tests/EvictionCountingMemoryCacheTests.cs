using System.ComponentModel.DataAnnotations;
using AspirePerf.Performance.Caching;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace AspirePerf.Performance.Tests;

/// <summary>The L1 decorator counts every eviction by reason; CacheStatistics reports the counts, the size and the limit.</summary>
public sealed class EvictionCountingMemoryCacheTests
{
    [Fact]
    public async Task Each_eviction_is_counted_under_its_reason()
    {
        var clock = new ManualClock();
        using var cache = new EvictionCountingMemoryCache(new MemoryCache(new MemoryCacheOptions { SizeLimit = 100, Clock = clock, TrackStatistics = true }));

        var a = Set(cache, "a", 40);
        var b = Set(cache, "b", 40);
        await Set(cache, "c", 40);                       // 120 > 100: refused, and reported as a capacity eviction
        cache.Remove("b");
        await b;
        _ = Set(cache, "a", 40);
        await a;                                         // the first "a" was replaced
        using var tokenSource = new CancellationTokenSource();
        var tokened = Set(cache, "t", 10, e => e.AddExpirationToken(new CancellationChangeToken(tokenSource.Token)));
        await tokenSource.CancelAsync();
        await tokened;
        var expiring = Set(cache, "e", 10, e => e.AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(1));
        clock.UtcNow += TimeSpan.FromMinutes(2);
        Assert.False(cache.TryGetValue("e", out _));
        await expiring;

        Assert.Equal((1, 1, 1, 1, 1), (cache.Evictions(EvictionReason.Capacity), cache.Evictions(EvictionReason.Removed),
            cache.Evictions(EvictionReason.Replaced), cache.Evictions(EvictionReason.TokenExpired), cache.Evictions(EvictionReason.Expired)));

        var statistics = new CacheStatistics(cache, Options.Create(new CachingOptions { L1 = { SizeLimitBytes = 100 } })).Snapshot(enabled: true);
        Assert.Equal((1, 40, 100), (statistics.L1Entries, statistics.L1EstimatedBytes, statistics.L1SizeLimitBytes));
        Assert.Equal(new Dictionary<string, long> { ["capacity"] = 1, ["expired"] = 1, ["removed"] = 1, ["replaced"] = 1, ["token_expired"] = 1 },
            statistics.L1Evictions);
    }

    [Theory]
    [InlineData(512L, 256, "SizeLimitBytes")]        // below the smallest limit
    [InlineData(4096L, 8192, "MaxL1Bytes")]          // an L1-admitted entry larger than the whole L1
    public void An_impossible_l1_configuration_fails_validation(long limit, int maxL1Bytes, string named)
    {
        var options = new CachingOptions { L1 = { SizeLimitBytes = limit }, Admission = { MaxL1Bytes = maxL1Bytes } };

        var result = new DataAnnotationValidateOptions<CachingOptions>(null).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(named, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_configuration_is_valid() =>
        Assert.True(new DataAnnotationValidateOptions<CachingOptions>(null).Validate(null, new CachingOptions()).Succeeded);

    // Completes when the entry leaves the cache. Registered after the decorator's own callback, and MemoryCache runs an
    // entry's callbacks in order, so by then the eviction has been counted.
    private static Task Set(EvictionCountingMemoryCache cache, string key, long size, Action<ICacheEntry>? configure = null)
    {
        var evicted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entry = cache.CreateEntry(key);
        entry.Value = key;
        entry.Size = size;
        configure?.Invoke(entry);
        entry.RegisterPostEvictionCallback(static (_, _, _, state) => ((TaskCompletionSource)state!).TrySetResult(), evicted);
        entry.Dispose();
        return evicted.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private sealed class ManualClock : ISystemClock
    {
        public DateTimeOffset UtcNow { get; set; } = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }
}
