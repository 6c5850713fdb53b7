using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspirePerf.Performance.Caching;

/// <summary>Section <c>Caching:Lease</c>: one computation per key across the cluster.</summary>
public sealed class CacheLeaseOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>How long a lease lasts without renewal; its holder renews it every third of this while computing.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest a node waits for another node's value before it computes the value itself.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a waiting node looks in Redis (besides being told by the backplane).</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A lease operation slower than this counts as "Redis unavailable": the node computes alone.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(250);
}

public enum LeaseOutcome
{
    Won,
    Waited,
    TakenOver,
    Bypassed,
    /// <summary>Taken alongside a Redis read that then found the value, and given back.</summary>
    Returned,
}

/// <summary>
/// Per-key leases in Redis: <c>SET key token NX PX</c>, where the token is unique to each grant; renewed and released
/// only by their holder (compare-and-set in Lua). Taking one is a plain command, not a script: it travels ahead of a
/// miss's Redis read, so Redis runs it before that read (a script costs Redis several times more). Hand-written because
/// neither HybridCache nor StackExchange.Redis offers a lease (RedLock.net is not served here, and a single Redis needs
/// no quorum).
/// </summary>
public sealed partial class CacheLeases(IConnectionMultiplexer redis, ILogger<CacheLeases> logger, IMeterFactory meters)
{
    private const string RenewScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
    private const string ReleaseScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    // Tokens: a random start per process, then one more per grant, so no two holders share one.
    private long _lastToken = Random.Shared.NextInt64(1, long.MaxValue / 2);

    private readonly Counter<long> _outcomes = meters.Create(CacheMetrics.MeterName).CreateCounter<long>("aspireperf.cache.leases", "{lease}",
        "Cold-key computations by how this node took part: won (computed under its lease), waited (got another node's value), " +
        "taken_over (the holder's lease lapsed; this node computed), bypassed (Redis unavailable or the wait ran out; computed alone); " +
        "and returned: leases taken alongside a Redis read that found the value, and given back.");

    public void Record(LeaseOutcome outcome) => _outcomes.Add(1, new KeyValuePair<string, object?>("outcome", outcome switch
    {
        LeaseOutcome.Won => "won",
        LeaseOutcome.Waited => "waited",
        LeaseOutcome.TakenOver => "taken_over",
        LeaseOutcome.Returned => "returned",
        _ => "bypassed",
    }));

    /// <summary>The lease for <paramref name="key"/>, or null when another node holds it.</summary>
    /// <exception cref="RedisException">Redis did not answer in time: the caller computes alone.</exception>
    public Task<CacheLease?> TryAcquireAsync(string @namespace, string key, CacheLeaseOptions options) => Request(@namespace, key, options).ReceiveAsync();

    /// <summary>
    /// Sends the request for <paramref name="key"/>'s lease now; its answer is read when it is needed. Never throws: a
    /// failure to send is what <see cref="LeaseRequest.ReceiveAsync"/> throws.
    /// </summary>
    public LeaseRequest Request(string @namespace, string key, CacheLeaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var database = redis.GetDatabase();
        var leaseKey = new RedisKey(LeaseKey(@namespace, key));
        var token = Interlocked.Increment(ref _lastToken);
        Task<bool> answer;
        try
        {
            answer = database.StringSetAsync(leaseKey, token, options.Duration, When.NotExists);
        }
        catch (Exception ex)
        {
            answer = Task.FromException<bool>(ex);
        }
        return new LeaseRequest(this, database, leaseKey, token, answer, options);
    }

    /// <summary>Whether any node holds the lease for <paramref name="key"/> now.</summary>
    public async Task<bool> IsHeldAsync(string @namespace, string key, CacheLeaseOptions options) =>
        await WithTimeout(redis.GetDatabase().KeyExistsAsync(LeaseKey(@namespace, key)), options);

    /// <summary>The Redis key of <paramref name="key"/>'s lease.</summary>
    internal static string LeaseKey(string @namespace, string key) => $"{@namespace}:lease:{key}";

    internal static async Task<T> WithTimeout<T>(Task<T> operation, CacheLeaseOptions options)
    {
        try
        {
            return await operation.WaitAsync(options.OperationTimeout);
        }
        catch (TimeoutException ex)
        {
            throw new RedisTimeoutException($"Lease operation slower than {options.OperationTimeout.TotalMilliseconds} ms: {ex.Message}", CommandStatus.Unknown);
        }
    }

    internal static async Task<bool> RenewAsync(IDatabase database, RedisKey key, long token, CacheLeaseOptions options) =>
        (long)await WithTimeout(database.ScriptEvaluateAsync(RenewScript, [key], [token, (long)options.Duration.TotalMilliseconds]), options) == 1;

    internal async Task ReleaseAsync(IDatabase database, RedisKey key, long token, CacheLeaseOptions options)
    {
        try
        {
            await WithTimeout(database.ScriptEvaluateAsync(ReleaseScript, [key], [token]), options);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
        {
            LogReleaseFailed(key.ToString(), ex.Message); // it lapses by itself
        }
    }

    [LoggerMessage(LogLevel.Warning, "Releasing cache lease {Key} failed ({Message}); it lapses when its time is up")]
    private partial void LogReleaseFailed(string key, string message);
}

/// <summary>
/// A lease request sent to Redis. Nothing runs when Redis answers until <see cref="ReceiveAsync"/> is awaited, so an
/// answer that arrives while its sender waits for another reply costs no thread-pool work ahead of that reply; the
/// <see cref="CacheLeaseOptions.OperationTimeout"/> counts from then, and costs no timer if the answer is in.
/// </summary>
public sealed class LeaseRequest
{
    private readonly CacheLeases _leases;
    private readonly IDatabase _database;
    private readonly RedisKey _key;
    private readonly long _token;
    private readonly Task<bool> _answer;
    private readonly CacheLeaseOptions _options;

    internal LeaseRequest(CacheLeases leases, IDatabase database, RedisKey key, long token, Task<bool> answer, CacheLeaseOptions options) =>
        (_leases, _database, _key, _token, _answer, _options) = (leases, database, key, token, answer, options);

    /// <summary>The lease, or null when another node holds it.</summary>
    /// <exception cref="RedisException">Redis did not answer in time.</exception>
    public async Task<CacheLease?> ReceiveAsync() =>
        await CacheLeases.WithTimeout(_answer, _options) ? new CacheLease(_leases, _database, _key, _token, _options) : null;
}

/// <summary>A held lease: renewed in the background until disposed, then released.</summary>
public sealed class CacheLease : IAsyncDisposable
{
    private readonly CacheLeases _leases;
    private readonly IDatabase _database;
    private readonly RedisKey _key;
    private readonly CacheLeaseOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewal;

    internal CacheLease(CacheLeases leases, IDatabase database, RedisKey key, long token, CacheLeaseOptions options)
    {
        (_leases, _database, _key, Token, _options) = (leases, database, key, token, options);
        _renewal = RenewAsync();
    }

    /// <summary>This grant's value in Redis: renewals and the release act only while the lease still holds it.</summary>
    public long Token { get; }

    /// <summary>False once a renewal found the lease gone (lapsed, another node took over): this holder must not write.</summary>
    public bool Held { get; private set; } = true;

    private async Task RenewAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(_options.Duration / 3, _stop.Token);
                Held = await CacheLeases.RenewAsync(_database, _key, Token, _options);
                if (!Held)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
        {
            // Redis gone: the lease lapses by itself; the computation goes on and its value is still written if it can be.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _renewal;
        _stop.Dispose();
        if (Held)
        {
            await _leases.ReleaseAsync(_database, _key, Token, _options);
        }
    }
}
