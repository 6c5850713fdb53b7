using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspirePerf.Performance.Caching;

public static class CachingServiceCollectionExtensions
{
    /// <summary>
    /// HybridCache over Redis (sharing the app's <see cref="IConnectionMultiplexer"/>, behind a circuit breaker), plus
    /// <see cref="AdaptiveCache"/> and its backplane. Needs an <see cref="IConnectionMultiplexer"/> registration.
    /// </summary>
    public static IServiceCollection AddAdaptiveCaching(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CachingOptions>()
            .Bind(configuration.GetSection(CachingOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddMemoryCache();
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
        services.AddSingleton<AdaptiveCache>();
        services.AddHostedService<CacheBackplane>();
        return services;
    }
}
