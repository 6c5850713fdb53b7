using System.Text;
using AspirePerf.Performance.Caching;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Microsoft.Extensions.DependencyInjection;
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

    private ApiFactory Node(string redis, string space)
    {
        var factory = new ApiFactory(_database, redis, settings: new()
        {
            ["Caching:Namespace"] = space,
            ["Caching:Lease:Duration"] = "00:00:01",
            ["Caching:Lease:PollInterval"] = "00:00:00.050",
        });
        factory.CreateClient().Dispose(); // starts the host, and with it the backplane
        return factory;
    }

    private static CacheRequest Request(AdaptiveCache cache, string name) =>
        new(cache.KeyFor(name, []), "aggregate", name, ["table:" + name, "query:" + name]);

    private static CachedPayload Payload(string body) => new(Encoding.UTF8.GetBytes(body), "application/json", 50, DateTimeOffset.UtcNow);
}
