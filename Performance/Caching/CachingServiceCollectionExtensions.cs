using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspirePerf.Performance.Caching;

public static class CachingServiceCollectionExtensions
{
    /// <summary>
    /// HybridCache over Redis (sharing the app's <see cref="IConnectionMultiplexer"/>, behind a circuit breaker), plus
    /// <see cref="AdaptiveCache"/> and its backplane. Needs an <see cref="IConnectionMultiplexer"/> registration.
    /// Replaces the app's <see cref="IMemoryCache"/> with HybridCache's L1, limited to <c>Caching:L1:SizeLimitBytes</c>:
    /// anything else that writes to it must give each entry a Size.
    /// </summary>
    public static IServiceCollection AddAdaptiveCaching(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CachingOptions>()
            .Bind(configuration.GetSection(CachingOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // HybridCache resolves its L1 as IMemoryCache, so that registration is the one to bound. It sizes every entry (its
        // serialized length); nothing else in this system writes to IMemoryCache.
        services.AddSingleton(sp =>
        {
            var l1 = sp.GetRequiredService<IOptions<CachingOptions>>().Value.L1;
            return new EvictionCountingMemoryCache(new MemoryCache(new MemoryCacheOptions
            {
                SizeLimit = l1.SizeLimitBytes,
                CompactionPercentage = l1.CompactionPercentage,
                TrackStatistics = true,
            }, sp.GetRequiredService<ILoggerFactory>()));
        });
        services.RemoveAll<IMemoryCache>();
        services.AddSingleton<IMemoryCache>(sp => sp.GetRequiredService<EvictionCountingMemoryCache>());
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<CacheStatistics>();
        services.AddSingleton<CacheMetrics>();
        services.AddSingleton<IDistributedCache>(sp =>
        {
            var multiplexer = sp.GetRequiredService<IConnectionMultiplexer>();
            var redis = new RedisCache(Options.Create(new RedisCacheOptions
            {
                ConnectionMultiplexerFactory = () => Task.FromResult(multiplexer),
                InstanceName = sp.GetRequiredService<IOptions<CachingOptions>>().Value.Namespace + ":",
            }));
            return new ResilientDistributedCache(redis, sp.GetRequiredService<IOptions<CachingOptions>>().Value.Distributed,
                sp.GetRequiredService<CacheMetrics>(), sp.GetRequiredService<ILogger<ResilientDistributedCache>>());
        });
        var maxBytes = configuration.GetValue<int?>($"{CachingOptions.SectionName}:Admission:MaxBytes") ?? new AdmissionOptions().MaxBytes;
        services.AddHybridCache(o =>
        {
            o.MaximumPayloadBytes = maxBytes;
            o.MaximumKeyLength = 512;
        }).AddSerializer<CachedPayload, CachedPayloadSerializer>();
        services.AddSingleton<CacheLeases>();
        services.AddSingleton<AdaptiveCache>();
        services.AddHostedService<CacheBackplane>();
        return services;
    }
}
