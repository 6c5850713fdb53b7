using System.Collections.Concurrent;
using System.Text;
using AspirePerf.Performance.Caching;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace AspirePerf.ApiService.Tests;

/// <summary>One computation per cold key across API instances sharing Redis, through a lease per key.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CacheLeaseTests(InfrastructureFixture infrastructure, ITestOutputHelper output) : IAsyncLifetime
{
    private string _database = null!;

    public async Task InitializeAsync() => _database = await infrastructure.CreateDatabaseAsync(nameof(CacheLeaseTests));

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Three_instances_with_fifty_callers_each_on_a_cold_key_run_its_factory_once()
    {
        var space = "lease" + Guid.NewGuid().ToString("N")[..8];
        var nodes = new[] { Node(infrastructure.Redis.ConnectionString, space), Node(infrastructure.Redis.ConnectionString, space), Node(infrastructure.Redis.ConnectionString, space) };
        try
        {
            var caches = nodes.Select(n => n.Services.GetRequiredService<AdaptiveCache>()).ToArray();
            var request = Request(caches[0], "cold");
            var runs = 0;
            var answers = await Task.WhenAll(caches.SelectMany(cache => Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
                (await cache.GetOrCreateAsync(request, async _ =>
                {
                    Interlocked.Increment(ref runs);
                    await Task.Delay(300, CancellationToken.None);
                    return Payload("computed");
                }, CancellationToken.None)).Payload))));

            Assert.Equal(1, runs);
            Assert.All(answers, a => Assert.Equal("computed", Encoding.UTF8.GetString(a.Body.Span)));
            var metrics = await nodes[0].CreateClient().GetStringAsync("/metrics") + await nodes[1].CreateClient().GetStringAsync("/metrics");
            Assert.Contains("aspireperf_cache_leases_total{", metrics, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task When_the_lease_holder_dies_mid_factory_another_instance_takes_over_and_callers_get_an_answer()
    {
        var space = "died" + Guid.NewGuid().ToString("N")[..8];
        var holder = Node(infrastructure.Redis.ConnectionString, space);
        await using var nodeB = Node(infrastructure.Redis.ConnectionString, space);
        await using var nodeC = Node(infrastructure.Redis.ConnectionString, space);
        var request = Request(nodeB.Services.GetRequiredService<AdaptiveCache>(), "orphaned");
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource<CachedPayload>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = holder.Services.GetRequiredService<AdaptiveCache>().GetOrCreateAsync(request, _ =>
        {
            holding.SetResult();
            return never.Task; // the holder never finishes
        }, CancellationToken.None).AsTask();
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var runs = 0;
        var callers = new[] { nodeB, nodeC }.SelectMany(node => Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
            (await node.Services.GetRequiredService<AdaptiveCache>().GetOrCreateAsync(request, async _ =>
            {
                Interlocked.Increment(ref runs);
                await Task.Delay(100, CancellationToken.None);
                return Payload("taken over");
            }, CancellationToken.None)).Payload))).ToArray();
        await Task.Delay(300);
        Assert.All(callers, c => Assert.False(c.IsCompleted)); // waiting for the holder's value

        await holder.DisposeAsync(); // the holder dies: its lease is no longer renewed and lapses
        var answers = await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(30));
        never.TrySetCanceled();

        Assert.Equal(1, runs);
        Assert.All(answers, a => Assert.Equal("taken over", Encoding.UTF8.GetString(a.Body.Span)));
    }

    [Fact]
    public async Task With_redis_stopped_mid_stampede_each_instance_computes_once_and_no_caller_fails()
    {
        var redis = await RedisServer.StartAsync(TestServers.RedisOptions(Path.Combine(infrastructure.RootDirectory, "redis-lease-outage")), infrastructure.Log);
        await using var _ = redis;
        var space = "down" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(redis.ConnectionString, space);
        await using var nodeB = Node(redis.ConnectionString, space);
        var caches = new[] { nodeA, nodeB }.Select(n => n.Services.GetRequiredService<AdaptiveCache>()).ToArray();

        // The stampede starts with Redis up (one node takes the lease, the other waits on it); Redis stops while the
        // holder computes: the waiting node stops waiting and computes alone, and nobody sees an error.
        var runs = new int[2];
        var stampede = Task.WhenAll(caches.SelectMany((cache, node) => Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
            (await cache.GetOrCreateAsync(Request(cache, "stampede-while-down"), async _ =>
            {
                Interlocked.Increment(ref runs[node]);
                await Task.Delay(600, CancellationToken.None);
                return Payload("alone");
            }, CancellationToken.None)).Payload))));
        await Task.Delay(150);
        await redis.StopAsync();
        var answers = await stampede.WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"factory runs per node: {runs[0]}, {runs[1]}");
        Assert.Equal([1, 1], runs);
        Assert.All(answers, a => Assert.Equal("alone", Encoding.UTF8.GetString(a.Body.Span)));
    }

    [Fact]
    public async Task A_miss_in_memory_that_finds_the_value_in_redis_gives_back_the_lease_it_asked_for_alongside_the_read()
    {
        // Leases last 30 s here: one kept by mistake would still be held when the test looks.
        var space = "give" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(infrastructure.Redis.ConnectionString, space, leaseDuration: "00:00:30");
        await using var nodeB = Node(infrastructure.Redis.ConnectionString, space, leaseDuration: "00:00:30");
        var (cacheA, cacheB) = (nodeA.Services.GetRequiredService<AdaptiveCache>(), nodeB.Services.GetRequiredService<AdaptiveCache>());
        var request = Request(cacheA, "in-redis");
        await cacheA.GetOrCreateAsync(request, _ => Task.FromResult(Payload("computed on A")), CancellationToken.None);
        var redis = nodeB.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var leaseKey = CacheLeases.LeaseKey(space, request.Key);
        await Eventually.ReturnsAsync(() => redis.KeyExistsAsync(leaseKey), held => !held, TimeSpan.FromSeconds(10), "A's Redis write and release");

        // B has nothing in memory: it asks Redis for the lease and the value together, gets the value, and gives the lease back.
        var lookup = await cacheB.GetOrCreateAsync(request, _ => throw new InvalidOperationException("not a miss"), CancellationToken.None);

        Assert.Equal((CacheOutcome.Hit, CacheTier.L2, "computed on A"), (lookup.Outcome, lookup.Tier, Encoding.UTF8.GetString(lookup.Payload.Body.Span)));
        using var metricsB = nodeB.CreateClient();
        await Eventually.ReturnsAsync(() => metricsB.GetStringAsync("/metrics"), m => m.Contains("outcome=\"returned\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "B counting the lease it gave back");
        Assert.False(await redis.KeyExistsAsync(leaseKey));

        // And a later miss anywhere takes the lease at once, nobody waits for a lease nobody uses.
        await cacheA.InvalidateKeyAsync(request.Key);
        await Eventually.ReturnsAsync(() => Task.FromResult(cacheB.Invalidations.InvalidatedSince(request, lookup.Payload.CreatedAt.UtcTicks)), done => done,
            TimeSpan.FromSeconds(10), "B applying A's invalidation");
        var recomputed = await cacheB.GetOrCreateAsync(request, _ => Task.FromResult(Payload("computed on B")), CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((CacheOutcome.Miss, "computed on B"), (recomputed.Outcome, Encoding.UTF8.GetString(recomputed.Payload.Body.Span)));
    }

    [Fact]
    public async Task Lookups_that_can_be_cancelled_read_redis_before_computing()
    {
        // The API's requests carry a token that can be cancelled (RequestAborted); HybridCache runs a cancellable lookup
        // on the thread pool, so even the look in memory may finish asynchronously. It must still be followed by the Redis read.
        var space = "token" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(infrastructure.Redis.ConnectionString, space);
        await using var nodeB = Node(infrastructure.Redis.ConnectionString, space);
        var (cacheA, cacheB) = (nodeA.Services.GetRequiredService<AdaptiveCache>(), nodeB.Services.GetRequiredService<AdaptiveCache>());
        var requests = Enumerable.Range(0, 40).Select(i => Request(cacheA, $"cancellable-{i}")).ToArray();
        foreach (var request in requests)
        {
            await cacheA.GetOrCreateAsync(request, _ => Task.FromResult(Payload("computed on A")), CacheCallOptions.AwaitRedisWrite, CancellationToken.None);
        }

        using var requestAborted = new CancellationTokenSource();
        var lookups = new List<CacheLookup>();
        foreach (var request in requests)
        {
            lookups.Add(await cacheB.GetOrCreateAsync(request, _ => Task.FromResult(Payload("computed on B")), requestAborted.Token));
        }

        Assert.All(lookups, l => Assert.Equal((CacheOutcome.Hit, CacheTier.L2, "computed on A"), (l.Outcome, l.Tier, Encoding.UTF8.GetString(l.Payload.Body.Span))));
    }

    [Fact]
    public async Task Two_instances_with_callers_arriving_around_the_end_of_the_holders_work_run_the_factory_once_per_key()
    {
        // A's callers start each key's computation; B's arrive from just before A's factory returns until after A's Redis
        // write and lease release, so some find the lease held, some the value in Redis, some both at the edge.
        const int factoryMs = 10;
        const int repetitions = 150;
        var space = "edge" + Guid.NewGuid().ToString("N")[..8];
        await using var nodeA = Node(infrastructure.Redis.ConnectionString, space);
        await using var nodeB = Node(infrastructure.Redis.ConnectionString, space);
        var (cacheA, cacheB) = (nodeA.Services.GetRequiredService<AdaptiveCache>(), nodeB.Services.GetRequiredService<AdaptiveCache>());
        var repeated = new ConcurrentBag<string>();
        for (var repetition = 0; repetition < repetitions; repetition++)
        {
            var request = Request(cacheA, $"edge-{repetition}");
            var runs = 0;
            async Task<string> CallAsync(AdaptiveCache cache, double arrivalMs)
            {
                if (arrivalMs >= 1)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(arrivalMs));
                }
                var lookup = cache.TryGetLocal(request, out var local) ? local : await cache.GetOrCreateAsync(request, async _ =>
                {
                    Interlocked.Increment(ref runs);
                    await Task.Delay(factoryMs, CancellationToken.None);
                    return Payload("once");
                }, CancellationToken.None);
                return Encoding.UTF8.GetString(lookup.Payload.Body.Span);
            }
            var answers = await Task.WhenAll(
                Enumerable.Range(0, 3).Select(_ => Task.Run(() => CallAsync(cacheA, 0)))
                    .Concat(Enumerable.Range(0, 12).Select(i => Task.Run(() => CallAsync(cacheB, factoryMs - 2 + i)))))
                .WaitAsync(TimeSpan.FromSeconds(30));
            Assert.All(answers, a => Assert.Equal("once", a));
            if (runs != 1)
            {
                repeated.Add($"#{repetition}: {runs} runs");
            }
        }
        output.WriteLine($"{repetitions} keys; repeated: {repeated.Count}");
        Assert.True(repeated.IsEmpty, string.Join("; ", repeated));
    }

    private ApiFactory Node(string redis, string space, string leaseDuration = "00:00:01")
    {
        var factory = new ApiFactory(_database, redis, settings: new()
        {
            ["Caching:Namespace"] = space,
            ["Caching:Lease:Duration"] = leaseDuration,
            ["Caching:Lease:PollInterval"] = "00:00:00.050",
        });
        factory.CreateClient().Dispose(); // starts the host, and with it the backplane
        return factory;
    }

    private static CacheRequest Request(AdaptiveCache cache, string name) =>
        new(cache.KeyFor(name, []), "aggregate", name, ["table:" + name, "query:" + name]);

    private static CachedPayload Payload(string body) => new(Encoding.UTF8.GetBytes(body), "application/json", 50, DateTimeOffset.UtcNow);
}
