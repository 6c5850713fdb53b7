using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Workforce.Queries;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace AspirePerf.Bench;

/// <summary>
/// BenchmarkDotNet over the real servers of a running system (connection strings from --cache and --workforce, or
/// the ConnectionStrings__cache / ConnectionStrings__workforce environment variables). In-process, so the
/// generated benchmark project does not inherit this repository's warnings-as-errors build.
/// </summary>
public static class MicroBenchmarks
{
    public static int Run(string[] args)
    {
        if (Options.Get(args, "--cache") is { } cache)
        {
            Environment.SetEnvironmentVariable("ConnectionStrings__cache", cache);
        }
        if (Options.Get(args, "--workforce") is { } workforce)
        {
            Environment.SetEnvironmentVariable("ConnectionStrings__workforce", workforce);
        }
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        var rest = args.Where((a, i) => a is not ("--cache" or "--workforce") && (i == 0 || args[i - 1] is not ("--cache" or "--workforce"))).ToArray();
        BenchmarkSwitcher.FromTypes([typeof(CacheHitBenchmarks), typeof(CacheMissBenchmarks), typeof(UncachedQueryBenchmark)]).Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);
        return 0;
    }

    internal static string Required(string variable) =>
        Environment.GetEnvironmentVariable(variable) ?? throw new InvalidOperationException($"{variable} is not set (pass --cache / --workforce).");
}

[MemoryDiagnoser]
public class CacheHitBenchmarks
{
    private static readonly string[] Tags = ["table:bench", "query:bench"];
    private static readonly HybridCacheEntryOptions L2Only = new() { Flags = HybridCacheEntryFlags.DisableLocalCache };
    private ServiceProvider _services = null!;
    private HybridCache _hybrid = null!;
    private AdaptiveCache _adaptive = null!;
    private CacheRequest _request = null!;
    private CachedPayload _payload = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(MicroBenchmarks.Required("ConnectionStrings__cache")));
        services.AddAdaptiveCaching(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Caching:Namespace"] = "bench" + Environment.ProcessId })
            .Build());
        _services = services.BuildServiceProvider();
        _hybrid = _services.GetRequiredService<HybridCache>();
        _adaptive = _services.GetRequiredService<AdaptiveCache>();

        // An 8 KB body, the size of a typical aggregate answer (wage-percentiles).
        _payload = new CachedPayload(new byte[8 * 1024], "application/json", 300, DateTimeOffset.UtcNow);
        await _hybrid.SetAsync("bench:raw", _payload, tags: Tags);
        await _hybrid.SetAsync("bench:l2", _payload, L2Only, Tags);
        _request = new CacheRequest(_adaptive.KeyFor("bench", [new("n", 1L)]), "aggregate", "bench", Tags);
        await _adaptive.GetOrCreateAsync(_request, _ => Task.FromResult(_payload), CancellationToken.None);
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true, Description = "raw HybridCache L1 hit")]
    public ValueTask<CachedPayload> RawHybridCacheL1Hit() =>
        _hybrid.GetOrCreateAsync("bench:raw", static _ => ValueTask.FromResult<CachedPayload>(null!), tags: Tags);

    private static readonly HybridCacheEntryOptions ProbeFlags = new()
    {
        Flags = HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    // The same entry our cache reads: same key (namespace, version, query id, parameter hash), same tags.
    [Benchmark(Description = "raw HybridCache L1 hit, same key as ours")]
    public ValueTask<CachedPayload> RawHybridCacheL1HitSameKey() =>
        _hybrid.GetOrCreateAsync(_request.Key, static _ => ValueTask.FromResult<CachedPayload>(null!), tags: Tags);

    [Benchmark(Description = "raw HybridCache L1 hit, probe flags")]
    public ValueTask<CachedPayload> RawHybridCacheProbe() =>
        _hybrid.GetOrCreateAsync("bench:raw", static _ => ValueTask.FromResult<CachedPayload>(null!), ProbeFlags, Tags);

    // The floor of any wrapper that returns a lookup result: the probe plus wrapping the payload, nothing else.
    [Benchmark(Description = "probe + CacheLookup wrapping only")]
#pragma warning disable CA2012 // Read once, after IsCompletedSuccessfully, as the product's fast path does.
    public ValueTask<CacheLookup> WrapperFloor()
    {
        var probe = _hybrid.GetOrCreateAsync<CachedPayload?>(_request.Key, static _ => ValueTask.FromResult<CachedPayload?>(null), ProbeFlags, Tags, CancellationToken.None);
        return probe.IsCompletedSuccessfully
            ? ValueTask.FromResult(new CacheLookup(probe.Result!, CacheOutcome.Hit, CacheTier.L1, null, null))
            : throw new InvalidOperationException("not an L1 hit");
    }
#pragma warning restore CA2012

    [Benchmark(Description = "AdaptiveCache L1 hit")]
    public ValueTask<CacheLookup> AdaptiveCacheL1Hit() =>
        _adaptive.GetOrCreateAsync(_request, static _ => Task.FromResult<CachedPayload>(null!), CancellationToken.None);

    [Benchmark(Description = "AdaptiveCache L1 hit, synchronous (TryGetLocal)")]
    public CacheLookup AdaptiveCacheTryGetLocal() =>
        _adaptive.TryGetLocal(_request, out var lookup) ? lookup : throw new InvalidOperationException("not an L1 hit");

    [Benchmark(Description = "AdaptiveCache L1 hit incl. key")]
    public ValueTask<CacheLookup> AdaptiveCacheL1HitWithKey() =>
        _adaptive.GetOrCreateAsync(_request with { Key = _adaptive.KeyFor("bench", [new("n", 1L)]) },
            static _ => Task.FromResult<CachedPayload>(null!), CancellationToken.None);

    [Benchmark(Description = "HybridCache L2 hit (Redis, 8 KB)")]
    public ValueTask<CachedPayload> HybridCacheL2Hit() =>
        _hybrid.GetOrCreateAsync("bench:l2", static _ => ValueTask.FromResult<CachedPayload>(null!), L2Only, Tags);
}

[MemoryDiagnoser]
public class UncachedQueryBenchmark
{
    private NpgsqlDataSource _dataSource = null!;
    private QueryExecutor _executor = null!;
    private QueryDefinition _query = null!;
    private BoundParameters _parameters = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dataSource = NpgsqlDataSource.Create(MicroBenchmarks.Required("ConnectionStrings__workforce"));
        _executor = new QueryExecutor(_dataSource, Microsoft.Extensions.Options.Options.Create(new QueryExecutionOptions()));
        _query = new QueryRegistry(WorkforceQueries.All).Find("wage-percentiles")!;
        _parameters = QueryParameterBinder.Bind(_query, []).Values!;
    }

    [GlobalCleanup]
    public void Cleanup() => _dataSource.Dispose();

    [Benchmark(Description = "uncached query (wage-percentiles)")]
    public Task<QueryResult> UncachedQuery() => _executor.ExecuteAsync(_query, _parameters, CancellationToken.None);
}
