using System.Buffers;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// Wraps the Redis distributed cache (L2) so that a failing Redis never fails a request: each operation has a
/// timeout, failures open a Polly circuit for a while (during which L2 is skipped without touching the network), and
/// every failure is reported as a miss or a skipped write. HybridCache then serves from L1 and the source.
/// </summary>
public sealed partial class ResilientDistributedCache : IBufferDistributedCache
{
    private readonly IBufferDistributedCache _inner;
    private readonly ResiliencePipeline _pipeline;
    private readonly TimeSpan _timeout;
    private readonly CacheMetrics _metrics;
    private readonly ILogger<ResilientDistributedCache> _logger;
    private readonly CircuitBreakerStateProvider _circuit = new();

    public ResilientDistributedCache(IBufferDistributedCache inner, DistributedCacheResilienceOptions options, CacheMetrics metrics, ILogger<ResilientDistributedCache> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _inner = inner;
        _metrics = metrics;
        _logger = logger;
        _timeout = options.OperationTimeout;
        _pipeline = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = options.BreakDuration,
                StateProvider = _circuit,
                ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<TimeoutException>(),
                OnOpened = _ =>
                {
                    LogCircuitOpened(options.BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogCircuitClosed();
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>Closed: Redis in use; Open (or Isolated): skipped without touching the network; HalfOpen: being tried again.</summary>
    public CircuitState CircuitState => _circuit.CircuitState;

    public async ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default)
    {
        return await RunAsync(async ct => await _inner.TryGetAsync(key, destination, ct).AsTask().WaitAsync(_timeout, ct), false, token);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        return await RunAsync(ct => _inner.GetAsync(key, ct).WaitAsync(_timeout, ct), null, token);
    }

    public ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        new(RunAsync(async ct =>
        {
            await _inner.SetAsync(key, value, options, ct).AsTask().WaitAsync(_timeout, ct);
            return true;
        }, false, token));

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        RunAsync(async ct =>
        {
            await _inner.SetAsync(key, value, options, ct).WaitAsync(_timeout, ct);
            return true;
        }, false, token);

    public Task RefreshAsync(string key, CancellationToken token = default) =>
        RunAsync(async ct =>
        {
            await _inner.RefreshAsync(key, ct).WaitAsync(_timeout, ct);
            return true;
        }, false, token);

    public Task RemoveAsync(string key, CancellationToken token = default) =>
        RunAsync(async ct =>
        {
            await _inner.RemoveAsync(key, ct).WaitAsync(_timeout, ct);
            return true;
        }, false, token);

    // HybridCache only uses the asynchronous members; the synchronous ones go through the same protection.
    public bool TryGet(string key, IBufferWriter<byte> destination) => TryGetAsync(key, destination).AsTask().GetAwaiter().GetResult();

    public byte[]? Get(string key) => GetAsync(key).GetAwaiter().GetResult();

    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).AsTask().GetAwaiter().GetResult();

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).GetAwaiter().GetResult();

    public void Refresh(string key) => RefreshAsync(key).GetAwaiter().GetResult();

    public void Remove(string key) => RemoveAsync(key).GetAwaiter().GetResult();

    private async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, T fallback, CancellationToken token)
    {
        try
        {
            return await _pipeline.ExecuteAsync(async ct => await operation(ct), token);
        }
        catch (BrokenCircuitException)
        {
            _metrics.L2Failed("circuit_open");
            return fallback;
        }
        catch (TimeoutException)
        {
            _metrics.L2Failed("timeout");
            return fallback;
        }
        catch (RedisException ex)
        {
            _metrics.L2Failed("error");
            LogL2Failed(ex.Message);
            return fallback;
        }
    }

    [LoggerMessage(LogLevel.Warning, "Redis (L2) failing: the cache skips it for {Seconds} s and serves from L1 and the source")]
    private partial void LogCircuitOpened(double seconds);

    [LoggerMessage(LogLevel.Information, "Redis (L2) answers again: the cache uses it again")]
    private partial void LogCircuitClosed();

    [LoggerMessage(LogLevel.Debug, "Redis (L2) operation failed: {Message}")]
    private partial void LogL2Failed(string message);
}
