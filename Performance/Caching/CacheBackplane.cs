using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// Cross-node invalidation over Redis pub/sub: every local invalidation is published, every other node's is applied
/// (evicting L1 everywhere). Messages sent while Redis is down are lost, so when the connection comes back each node
/// drops its whole L1 rather than risk serving something another node invalidated meanwhile.
/// </summary>
public sealed partial class CacheBackplane(AdaptiveCache cache, IConnectionMultiplexer redis, ILogger<CacheBackplane> logger) : IHostedService
{
    private RedisChannel _channel;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _channel = RedisChannel.Literal($"{cache.Options.Namespace}:{cache.Options.BackplaneChannel}");
        cache.Invalidated += PublishAsync;
        redis.ConnectionRestored += OnConnectionRestored;
        try
        {
            await redis.GetSubscriber().SubscribeAsync(_channel, OnMessage);
        }
        catch (RedisException ex)
        {
            // StackExchange.Redis re-subscribes by itself once connected; start without it rather than fail the host.
            LogSubscribeDeferred(ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        cache.Invalidated -= PublishAsync;
        redis.ConnectionRestored -= OnConnectionRestored;
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(_channel);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
        {
            // Shutting down anyway; the container may already have disposed the multiplexer.
        }
    }

    private async Task PublishAsync(CacheInvalidation invalidation)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(_channel, JsonSerializer.Serialize(invalidation));
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
        {
            LogPublishFailed(invalidation.Kind, invalidation.Value, ex.Message);
        }
    }

    private void OnMessage(RedisChannel channel, RedisValue message)
    {
        try
        {
            if (JsonSerializer.Deserialize<CacheInvalidation>(message.ToString()) is { } invalidation)
            {
                _ = cache.ApplyRemoteAsync(invalidation).ContinueWith(
                    t => LogApplyFailed(t.Exception!),
                    CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
        catch (JsonException ex)
        {
            LogApplyFailed(ex);
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            cache.ClearLocal();
            LogL1Cleared();
        }
    }

    [LoggerMessage(LogLevel.Warning, "Cache backplane could not subscribe yet ({Message}); it will once Redis is reachable")]
    private partial void LogSubscribeDeferred(string message);

    [LoggerMessage(LogLevel.Warning, "Cache invalidation ({Kind} {Value}) applied locally but not published: {Message}")]
    private partial void LogPublishFailed(CacheInvalidationKind kind, string value, string message);

    [LoggerMessage(LogLevel.Warning, "Applying a cache invalidation from another node failed")]
    private partial void LogApplyFailed(Exception ex);

    [LoggerMessage(LogLevel.Information, "Redis connection restored: L1 cleared, since invalidations may have been missed meanwhile")]
    private partial void LogL1Cleared();
}
