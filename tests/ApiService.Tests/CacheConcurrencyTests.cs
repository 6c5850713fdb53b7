using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using AspirePerf.Performance.Caching;
using AspirePerf.TestSupport;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The cache under concurrency, against the real Redis: one factory run per key however callers arrive, invalidation
/// that holds while readers on two nodes hammer the keys, background writes that never outlive an invalidation, and
/// the per-call way past this node's memory.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CacheConcurrencyTests(InfrastructureFixture infrastructure, ITestOutputHelper output) : IAsyncLifetime
{
    private const int FactoryMs = 5;
    private string _database = null!;

    // The values here come from the tests' own factories; the API host still wants a database to start against.
    public async Task InitializeAsync() => _database = await infrastructure.CreateDatabaseAsync(nameof(CacheConcurrencyTests));

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Callers_arriving_around_the_end_of_a_factory_run_it_once_per_key_on_a_node()
    {
        await using var node = Node("stress");
        var cache = node.Services.GetRequiredService<AdaptiveCache>();
        // When each of 40 callers arrives, in ms after the first: all at once, spread over twice the factory's run (so
        // some arrive while it runs, some around its end, some after), and bunched at the instant it ends.
        (string Name, Func<int, double> ArrivalMs)[] patterns =
        [
            ("together", _ => 0),
            ("spread over two runs", i => 2.0 * FactoryMs * i / 40),
            ("at the factory's end", i => FactoryMs - 1 + i % 3),
        ];
        const int repetitions = 350; // × 3 patterns: 1,050 keys
        var repeated = new ConcurrentBag<string>();
        var slowestMs = 0.0;
        foreach (var (name, arrivalMs) in patterns)
        {
            for (var repetition = 0; repetition < repetitions; repetition++)
            {
                var request = Request(cache, $"stress-{name}-{repetition}", "table:stress");
                var runs = 0;
                var waits = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
                {
                    var arrival = arrivalMs(i);
                    if (arrival >= 1)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(arrival));
                    }
                    var started = Stopwatch.GetTimestamp();
                    // The API's own pattern: the synchronous L1 read, then the full lookup.
                    var lookup = cache.TryGetLocal(request, out var local) ? local : await cache.GetOrCreateAsync(request, async _ =>
                    {
                        Interlocked.Increment(ref runs);
                        await Task.Delay(FactoryMs, CancellationToken.None);
                        return Payload("1", DateTimeOffset.UtcNow);
                    }, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                    Assert.Equal("1", Encoding.UTF8.GetString(lookup.Payload.Body.Span));
                    return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                })));
                if (runs != 1)
                {
                    repeated.Add($"{name} #{repetition}: {runs} runs");
                }
                slowestMs = Math.Max(slowestMs, waits.Max());
            }
        }
        output.WriteLine($"{patterns.Length * repetitions} keys × 40 callers; slowest caller waited {slowestMs:0.0} ms (factory {FactoryMs} ms).");
        Assert.True(repeated.IsEmpty, string.Join("; ", repeated));
    }

    [Fact]
    public async Task After_an_invalidation_no_read_on_either_node_sees_a_value_computed_before_it()
    {
        var space = "inv" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(space);
        await using var nodeB = Node(space);
        var (cacheA, cacheB) = (nodeA.Services.GetRequiredService<AdaptiveCache>(), nodeB.Services.GetRequiredService<AdaptiveCache>());
        var tag = "table:versioned-" + space;
        var requests = Enumerable.Range(0, 5).Select(i => Request(cacheA, $"versioned-{i}", tag)).ToArray();
        var version = 1;
        var reads = new ConcurrentQueue<(char Node, long StartedAt, int Version)>();
        using var stop = new CancellationTokenSource();

        async Task ReadAsync(char name, AdaptiveCache cache)
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var request = requests[i++ % requests.Length];
                var started = Stopwatch.GetTimestamp();
                var lookup = cache.TryGetLocal(request, out var local) ? local : await cache.GetOrCreateAsync(request, async _ =>
                {
                    var computedAt = DateTimeOffset.UtcNow;
                    var seen = Volatile.Read(ref version);
                    await Task.Delay(2, CancellationToken.None);
                    return Payload(seen.ToString(System.Globalization.CultureInfo.InvariantCulture), computedAt);
                }, CancellationToken.None);
                reads.Enqueue((name, started, int.Parse(Encoding.UTF8.GetString(lookup.Payload.Body.Span), System.Globalization.CultureInfo.InvariantCulture)));
                // A read from memory completes synchronously: without a yield the six readers keep six thread-pool
                // threads forever, and the test's own timers and the backplane's delivery wait seconds for a thread
                // (the 1.6 s of hammering took 12 to 31 s). Yielding queues the next read behind them instead.
                await Task.Yield();
            }
        }

        var readers = Enumerable.Range(0, 3).SelectMany(_ => new[] { Task.Run(() => ReadAsync('A', cacheA)), Task.Run(() => ReadAsync('B', cacheB)) }).ToArray();
        await Task.Delay(800);
        var beforeTicks = DateTimeOffset.UtcNow.UtcTicks;
        Interlocked.Exchange(ref version, 2); // the data changes, then its tag is invalidated on node A
        await cacheA.InvalidateTagAsync(tag);
        var returnedOnA = Stopwatch.GetTimestamp();
        while (!cacheB.Invalidations.InvalidatedSince(requests[0], beforeTicks))
        {
            await Task.Delay(1);
        }
        var deliveredToB = Stopwatch.GetTimestamp();
        await Task.Delay(800);
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        var all = reads.ToList();
        var staleOnA = all.Count(r => r.Node == 'A' && r.StartedAt > returnedOnA && r.Version < 2);
        var staleOnB = all.Count(r => r.Node == 'B' && r.StartedAt > deliveredToB && r.Version < 2);
        output.WriteLine($"{all.Count:N0} reads; after the invalidation A read {all.Count(r => r.Node == 'A' && r.StartedAt > returnedOnA):N0}, " +
            $"B read {all.Count(r => r.Node == 'B' && r.StartedAt > deliveredToB):N0} (delivered {Stopwatch.GetElapsedTime(returnedOnA, deliveredToB).TotalMilliseconds:0.0} ms after A returned)");
        Assert.True(all.Count(r => r.Version == 1) > 100 && all.Count(r => r.Version == 2) > 100, "both versions read many times");
        Assert.Equal((0, 0), (staleOnA, staleOnB));
    }

    [Fact]
    public async Task A_redis_write_held_back_past_an_invalidation_never_serves_the_old_value_and_the_caller_did_not_wait_for_it()
    {
        var space = "ord" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(space);
        await using var nodeB = Node(space);
        var (cacheA, cacheB) = (nodeA.Services.GetRequiredService<AdaptiveCache>(), nodeB.Services.GetRequiredService<AdaptiveCache>());
        var tag = "table:ordered-" + space;
        var request = Request(cacheA, "ordered", tag);
        var writeHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseWrite = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cacheA.BeforeDistributedWrite = async r =>
        {
            if (r.Key == request.Key)
            {
                writeHeld.TrySetResult();
                await releaseWrite.Task;
            }
        };

        // The caller has its value while the Redis write is still held back.
        var first = await cacheA.GetOrCreateAsync(request, _ => Task.FromResult(Payload("1", DateTimeOffset.UtcNow)), CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((CacheOutcome.Miss, "1"), (first.Outcome, Encoding.UTF8.GetString(first.Payload.Body.Span)));
        await writeHeld.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The data changes and node B invalidates; the held write is released at once, before or after A hears of it.
        var beforeTicks = DateTimeOffset.UtcNow.UtcTicks;
        await cacheB.InvalidateTagAsync(tag);
        releaseWrite.SetResult();
        await Eventually.ReturnsAsync(() => Task.FromResult(cacheA.InFlightCount), n => n == 0, TimeSpan.FromSeconds(10), "the held write finishing");
        await Eventually.ReturnsAsync(() => Task.FromResult(cacheA.Invalidations.InvalidatedSince(request, beforeTicks)), done => done,
            TimeSpan.FromSeconds(10), "node A applying B's invalidation");

        foreach (var (name, cache) in new[] { ("B", cacheB), ("A", cacheA) })
        {
            var lookup = await cache.GetOrCreateAsync(request, _ => Task.FromResult(Payload("2", DateTimeOffset.UtcNow)), CancellationToken.None);
            Assert.True(Encoding.UTF8.GetString(lookup.Payload.Body.Span) == "2", $"node {name} read {Encoding.UTF8.GetString(lookup.Payload.Body.Span)} ({lookup.Outcome}, {lookup.Tier})");
        }
    }

    [Fact]
    public async Task A_miss_that_asks_to_await_its_redis_write_returns_once_the_value_is_in_redis()
    {
        var space = "await" + Guid.NewGuid().ToString("N")[..8];
        await using var node = Node(space);
        var cache = node.Services.GetRequiredService<AdaptiveCache>();
        var request = Request(cache, "awaited", "table:awaited-" + space);
        var releaseWrite = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cache.BeforeDistributedWrite = async r =>
        {
            if (r.Key == request.Key)
            {
                await releaseWrite.Task;
            }
        };

        var call = cache.GetOrCreateAsync(request, _ => Task.FromResult(Payload("1", DateTimeOffset.UtcNow)), CacheCallOptions.AwaitRedisWrite,
            CancellationToken.None).AsTask();
        await Task.Delay(300);
        Assert.False(call.IsCompleted, "returned before its Redis write");
        releaseWrite.SetResult();
        var lookup = await call.WaitAsync(TimeSpan.FromSeconds(10));

        var shared = await cache.GetOrCreateAsync(request, _ => throw new InvalidOperationException("not in Redis"), CacheCallOptions.SkipLocal, CancellationToken.None);
        Assert.Equal((CacheOutcome.Miss, CacheOutcome.Hit, CacheTier.L2, "1"), (lookup.Outcome, shared.Outcome, shared.Tier, Encoding.UTF8.GetString(shared.Payload.Body.Span)));
    }

    [Fact]
    public async Task Skipping_local_memory_reads_the_shared_copy_in_redis()
    {
        var space = "skip" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(space);
        await using var nodeB = Node(space);
        var cacheA = nodeA.Services.GetRequiredService<AdaptiveCache>();
        var request = Request(cacheA, "shared", "table:shared-" + space);
        await cacheA.GetOrCreateAsync(request, _ => Task.FromResult(Payload("1", DateTimeOffset.UtcNow)), CancellationToken.None);
        await Eventually.ReturnsAsync(() => Task.FromResult(cacheA.InFlightCount), n => n == 0, TimeSpan.FromSeconds(10), "A's Redis write");

        // Another writer replaces the shared copy in Redis only; A's memory still holds the first value.
        await nodeB.Services.GetRequiredService<HybridCache>().SetAsync(request.Key, Payload("2", DateTimeOffset.UtcNow),
            new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(5), Flags = HybridCacheEntryFlags.DisableLocalCacheWrite }, request.Tags);

        var local = await cacheA.GetOrCreateAsync(request, _ => throw new InvalidOperationException("not a miss"), CancellationToken.None);
        var shared = await cacheA.GetOrCreateAsync(request, _ => throw new InvalidOperationException("not a miss"), CacheCallOptions.SkipLocal, CancellationToken.None);
        Assert.Equal(("1", CacheTier.L1), (Encoding.UTF8.GetString(local.Payload.Body.Span), local.Tier));
        Assert.Equal(("2", CacheTier.L2), (Encoding.UTF8.GetString(shared.Payload.Body.Span), shared.Tier));
    }

    private ApiFactory Node(string space)
    {
        var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString,
            settings: new() { ["Caching:Namespace"] = space });
        factory.CreateClient().Dispose(); // starts the host, and with it the backplane
        return factory;
    }

    private static CacheRequest Request(AdaptiveCache cache, string name, string tag) =>
        new(cache.KeyFor(name, []), "aggregate", name, [tag, "query:" + name]);

    private static CachedPayload Payload(string body, DateTimeOffset computedAt) =>
        new(Encoding.UTF8.GetBytes(body), "application/json", 50, computedAt);
}
