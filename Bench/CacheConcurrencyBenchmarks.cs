using System.Diagnostics;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Workforce.Queries;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace AspirePerf.Bench;

/// <summary>
/// A cache built like the app's (<c>AddAdaptiveCaching</c> over a real Redis), with the query API's request shape: the
/// five tags of <c>wage-percentiles</c> (four tables and the query) and a 4 KB body.
/// </summary>
internal sealed class BenchCache : IDisposable
{
    private readonly ServiceProvider _services;

    public BenchCache(string redis, bool lease, string cacheNamespace)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
        services.AddAdaptiveCaching(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Caching:Namespace"] = cacheNamespace,
                ["Caching:Lease:Enabled"] = lease ? "true" : "false",
            })
            .Build());
        _services = services.BuildServiceProvider();
        Hybrid = _services.GetRequiredService<HybridCache>();
        Adaptive = _services.GetRequiredService<AdaptiveCache>();
        Redis = _services.GetRequiredService<IConnectionMultiplexer>();
        Query = new QueryRegistry(WorkforceQueries.All).Find("wage-percentiles")!;
        Tags = QueryResponseCache.Request(Adaptive, Query, QueryParameterBinder.Bind(Query, []).Values!).Tags;
    }

    public HybridCache Hybrid { get; }
    public AdaptiveCache Adaptive { get; }
    public IConnectionMultiplexer Redis { get; }
    public QueryDefinition Query { get; }
    public IReadOnlyList<string> Tags { get; }

    /// <summary>A fresh key for the query, as the API builds it (one more parameter makes it unique).</summary>
    public CacheRequest Request(long n) => new(Adaptive.KeyFor(Query.Id, [new("n", n)]), Query.CacheProfile, Query.Id, Tags);

    public static CachedPayload Payload() => new(new byte[4 * 1024], QueryResponseCache.JsonContentType, 300, DateTimeOffset.UtcNow);

    public void Dispose() => _services.Dispose();
}

/// <summary>
/// A miss on a fresh key each time, answered by a factory that returns at once, then stored: raw HybridCache (which
/// writes L1 and Redis before it answers) against AdaptiveCache with and without the per-key lease. All three read
/// and write the same Redis. Keys are built before the measurement (outside the timed call) for all three.
/// </summary>
[MemoryDiagnoser]
public class CacheMissBenchmarks
{
    private BenchCache _leaseOn = null!;
    private BenchCache _leaseOff = null!;
    private CachedPayload _payload = null!;
    private Func<CancellationToken, Task<CachedPayload>> _factory = null!;
    private Func<CancellationToken, ValueTask<CachedPayload>> _rawFactory = null!;
    private long _next;

    [GlobalSetup]
    public void Setup()
    {
        var redis = MicroBenchmarks.Required("ConnectionStrings__cache");
        _leaseOn = new BenchCache(redis, lease: true, "missa" + Environment.ProcessId);
        _leaseOff = new BenchCache(redis, lease: false, "missb" + Environment.ProcessId);
        _payload = BenchCache.Payload();
        var payload = _payload;
        _factory = _ => Task.FromResult(payload);
        _rawFactory = _ => ValueTask.FromResult(payload);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _leaseOn.Dispose();
        _leaseOff.Dispose();
    }

    // Each key is used once; the key string is computed in the call for all three (the same SHA-256 key building).
    [Benchmark(Baseline = true, Description = "raw HybridCache miss + set (L1 + Redis)")]
    public ValueTask<CachedPayload> RawHybridCacheMissAndSet() =>
        _leaseOn.Hybrid.GetOrCreateAsync(_leaseOn.Request(Interlocked.Increment(ref _next)).Key, _rawFactory, tags: _leaseOn.Tags);

    [Benchmark(Description = "AdaptiveCache miss + set, lease on")]
    public ValueTask<CacheLookup> AdaptiveCacheMissLeaseOn() =>
        _leaseOn.Adaptive.GetOrCreateAsync(_leaseOn.Request(Interlocked.Increment(ref _next)), _factory, CancellationToken.None);

    [Benchmark(Description = "AdaptiveCache miss + set, lease off")]
    public ValueTask<CacheLookup> AdaptiveCacheMissLeaseOff() =>
        _leaseOff.Adaptive.GetOrCreateAsync(_leaseOff.Request(Interlocked.Increment(ref _next)), _factory, CancellationToken.None);
}

/// <summary>
/// 50 callers on one cold key with a 50 ms factory: how long the slowest of them waits, against the factory's own
/// time and one Redis round trip. Raw HybridCache and AdaptiveCache (lease on and off), one node, medians over the runs.
/// </summary>
public static class CacheStampedeBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var redis = Options.Get(args, "--cache") ?? Environment.GetEnvironmentVariable("ConnectionStrings__cache")
            ?? throw new InvalidOperationException("pass --cache \"<redis connection string>\"");
        var callers = int.Parse(Options.Get(args, "--callers") ?? "50", System.Globalization.CultureInfo.InvariantCulture);
        var runs = int.Parse(Options.Get(args, "--runs") ?? "30", System.Globalization.CultureInfo.InvariantCulture);
        var factoryMs = int.Parse(Options.Get(args, "--factory-ms") ?? "50", System.Globalization.CultureInfo.InvariantCulture);
        using var leaseOn = new BenchCache(redis, lease: true, "stmpa" + Environment.ProcessId);
        using var leaseOff = new BenchCache(redis, lease: false, "stmpb" + Environment.ProcessId);
        var payload = BenchCache.Payload();
        var next = 0L;

        var rtt = await RoundTripAsync(leaseOn.Redis);
        Console.WriteLine($"Redis round trip (PING, median of 200): {rtt:F3} ms; {callers} callers, {factoryMs} ms factory, {runs} runs");

        var variants = new (string Name, Func<Func<Task>, Func<Task>[]> Callers)[]
        {
            ("raw HybridCache", factory =>
            {
                var key = leaseOn.Request(Interlocked.Increment(ref next)).Key;
                return [.. Enumerable.Range(0, callers).Select(_ => (Func<Task>)(async () =>
                    await leaseOn.Hybrid.GetOrCreateAsync(key, async _ => { await factory(); return payload; }, tags: leaseOn.Tags)))];
            }),
            ("AdaptiveCache, lease on", factory => Adaptive(leaseOn, factory)),
            ("AdaptiveCache, lease off", factory => Adaptive(leaseOff, factory)),
        };

        Func<Task>[] Adaptive(BenchCache cache, Func<Task> factory)
        {
            var request = cache.Request(Interlocked.Increment(ref next));
            return [.. Enumerable.Range(0, callers).Select(_ => (Func<Task>)(async () =>
                await cache.Adaptive.GetOrCreateAsync(request, async _ => { await factory(); return payload; }, CancellationToken.None)))];
        }

        var results = variants.ToDictionary(v => v.Name, _ => (Slowest: new List<double>(), Factory: new List<double>(), Runs: new List<int>()));
        // One warm-up round each, then the runs interleaved so drift hits all variants alike.
        for (var run = -1; run < runs; run++)
        {
            foreach (var (name, make) in variants)
            {
                var factoryRuns = 0;
                var factoryTime = 0.0;
                var group = make(async () =>
                {
                    Interlocked.Increment(ref factoryRuns);
                    var began = Stopwatch.GetTimestamp();
                    await Task.Delay(factoryMs);
                    factoryTime = Stopwatch.GetElapsedTime(began).TotalMilliseconds;
                });
                var start = Stopwatch.GetTimestamp();
                var ends = new Task<long>[group.Length];
                for (var i = 0; i < group.Length; i++)
                {
                    ends[i] = Timed(group[i]);
                }
                var finished = await Task.WhenAll(ends);
                var slowest = Stopwatch.GetElapsedTime(start, finished.Max()).TotalMilliseconds;
                if (run >= 0)
                {
                    results[name].Slowest.Add(slowest);
                    results[name].Factory.Add(factoryTime);
                    results[name].Runs.Add(factoryRuns);
                }
                // Let background Redis writes and lease releases finish before the next group.
                await Task.Delay(20);
            }
        }

        Console.WriteLine();
        // Three decimals: with --factory-ms 0 a miss takes a few tenths of a millisecond, and the ratio to raw HybridCache's
        // median (the last column) is what the miss + set target is read from.
        Console.WriteLine("| variant | slowest caller, median | p90 | max | factory, median | slowest ÷ factory | slowest ÷ (1.2 × factory + RTT) | factory runs per stampede | median ÷ raw HybridCache's |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var rawMedian = Median(results[variants[0].Name].Slowest);
        foreach (var (name, _) in variants)
        {
            var (slowest, factory, factoryRuns) = results[name];
            var s = Median(slowest);
            var f = Median(factory);
            Console.WriteLine($"| {name} | {s:F3} ms | {Percentile(slowest, 0.9):F3} ms | {slowest.Max():F2} ms | {f:F2} ms | {s / f:F3}× | {s / (1.2 * f + rtt):F3} | {factoryRuns.Min()}–{factoryRuns.Max()} | {s / rawMedian:F3}× |");
        }
        return 0;
    }

    private static async Task<long> Timed(Func<Task> call)
    {
        await call();
        return Stopwatch.GetTimestamp();
    }

    private static async Task<double> RoundTripAsync(IConnectionMultiplexer redis)
    {
        var db = redis.GetDatabase();
        var samples = new List<double>();
        for (var i = 0; i < 220; i++)
        {
            var began = Stopwatch.GetTimestamp();
            await db.PingAsync();
            if (i >= 20)
            {
                samples.Add(Stopwatch.GetElapsedTime(began).TotalMilliseconds);
            }
        }
        return Median(samples);
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }
}
