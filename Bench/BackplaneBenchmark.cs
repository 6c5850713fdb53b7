using System.Diagnostics;
using System.Globalization;
using AspirePerf.Performance.Caching;
using HdrHistogram;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AspirePerf.Bench;

/// <summary>
/// How long a cross-node invalidation takes to evict L1 on the other node: two cache nodes (two service providers,
/// each with its own multiplexer, memory and backplane) on one Redis. Each round, node A computes a value and node B
/// reads it into its L1; then A invalidates (a key, or a tag) and the clock runs until B's next lookup misses.
/// </summary>
public static class BackplaneBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var redis = Options.Get(args, "--cache") ?? Environment.GetEnvironmentVariable("ConnectionStrings__cache")
            ?? throw new InvalidOperationException("Pass --cache \"<redis connection string>\".");
        var rounds = Options.Int(args, "--rounds", 200);
        var ns = "bp" + Environment.ProcessId;
        await using var a = await StartNodeAsync(redis, ns);
        await using var b = await StartNodeAsync(redis, ns);
        var cacheA = a.GetRequiredService<AdaptiveCache>();
        var cacheB = b.GetRequiredService<AdaptiveCache>();
        var payload = new CachedPayload(new byte[2048], "application/json", 50, DateTimeOffset.UtcNow);
        var byKind = new Dictionary<string, LongHistogram> { ["key"] = new(TimeStamp.Seconds(10), 3), ["tag"] = new(TimeStamp.Seconds(10), 3) };

        for (var round = 0; round < rounds; round++)
        {
            var kind = round % 2 == 0 ? "key" : "tag";
            var request = new CacheRequest(cacheA.KeyFor("backplane", [new("round", (long)round)]), "aggregate", "backplane", [$"table:t{round}"]);
            await cacheA.GetOrCreateAsync(request, _ => Task.FromResult(payload), CancellationToken.None);
            var onB = await cacheB.GetOrCreateAsync(request, _ => Task.FromResult(payload), CancellationToken.None);
            if (onB.Outcome != CacheOutcome.Hit)
            {
                throw new InvalidOperationException($"round {round}: node B did not read the value from the cache ({onB.Outcome}).");
            }
            var started = Stopwatch.GetTimestamp();
            if (kind == "key")
            {
                await cacheA.InvalidateKeyAsync(request.Key);
            }
            else
            {
                await cacheA.InvalidateTagAsync(request.Tags[0]);
            }
            while ((await cacheB.GetOrCreateAsync(request, _ => Task.FromResult(payload), CancellationToken.None)).Outcome == CacheOutcome.Hit)
            {
                if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(5))
                {
                    throw new TimeoutException($"round {round}: node B still hit 5 s after the {kind} invalidation.");
                }
            }
            byKind[kind].RecordValue((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        }

        Console.WriteLine($"{rounds} rounds, two nodes on one Redis");
        Console.WriteLine("| invalidation | rounds | p50 ms | p90 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (kind, h) in byKind)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {kind} | {h.TotalCount} | {h.GetValueAtPercentile(50) / 1000.0:0.000} | {h.GetValueAtPercentile(90) / 1000.0:0.000} | {h.GetValueAtPercentile(99) / 1000.0:0.000} | {h.GetMaxValue() / 1000.0:0.000} |"));
        }
        return 0;
    }

    private static async Task<ServiceProvider> StartNodeAsync(string redis, string ns)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
        services.AddAdaptiveCaching(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Caching:Namespace"] = ns })
            .Build());
        var provider = services.BuildServiceProvider();
        foreach (var hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }
        return provider;
    }
}
