using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspirePerf.Performance.Caching;

public enum CacheOutcome
{
    Hit,
    Miss,
    Stale,
    Bypass,
}

public enum CacheTier
{
    L1,
    L2,
    Source,
}

/// <summary>One cacheable operation: its key, profile, tags (e.g. <c>table:employment_spells</c>) and operation name.</summary>
public sealed record CacheRequest(string Key, string Profile, string Operation, IReadOnlyList<string> Tags);

public readonly record struct CacheLookup(CachedPayload Payload, CacheOutcome Outcome, CacheTier Tier, TimeSpan? Ttl, string? Reason);

/// <summary>
/// HybridCache (L1 memory + L2 Redis, tags, serialization) plus what it lacks:
/// <list type="bullet">
/// <item>adaptive TTL and admission from the measured cost and size of each result (<see cref="CachePolicy"/>) —
/// HybridCache fixes entry options before the factory runs, so a miss is computed here, under our own
/// single-flight per key, and stored with <c>SetAsync</c>;</item>
/// <item>fail-safe: the last good value of each key is kept for a grace period and served (STALE) when recomputing fails;</item>
/// <item>cross-node invalidation through <see cref="CacheBackplane"/> (HybridCache has no backplane);</item>
/// <item>outcome per lookup (hit tier, miss, stale, bypass), metrics and statistics.</item>
/// </list>
/// </summary>
public sealed partial class AdaptiveCache : IDisposable
{
    private readonly HybridCache _cache;
    private readonly EvictionCountingMemoryCache _l1;
    private readonly IOptionsMonitor<CachingOptions> _options;
    private readonly CacheMetrics _metrics;
    private readonly CacheStatistics _statistics;
    private readonly TimeProvider _time;
    private readonly ILogger<AdaptiveCache> _logger;
    private readonly ConcurrentDictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);
    private readonly InvalidationRecord _invalidations;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _cheapOperations = new(StringComparer.Ordinal);
    private volatile bool _anyCheapOperation;
    private readonly MemoryCache _lastGood = new(new MemoryCacheOptions { SizeLimit = 256L * 1024 * 1024 });

    private readonly CacheLeases _leases;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _readyWaiters = new(StringComparer.Ordinal);

    public AdaptiveCache(HybridCache cache, EvictionCountingMemoryCache l1, IOptionsMonitor<CachingOptions> options, CacheMetrics metrics,
        CacheStatistics statistics, TimeProvider time, ILogger<AdaptiveCache> logger, CacheLeases leases)
    {
        _leases = leases;
        _cache = cache;
        _l1 = l1;
        _options = options;
        _metrics = metrics;
        _statistics = statistics;
        _time = time;
        _logger = logger;
        _invalidations = new InvalidationRecord(time);
        _settings = options.CurrentValue;
        _profiles = BuildProfiles(_settings);
        _optionsChange = options.OnChange(o =>
        {
            _settings = o;
            _profiles = BuildProfiles(o);
        });
    }

    private sealed record ProfileState(CacheProfile Profile, CacheStatistics.ProfileCounters Counters);

    // Profile and counters in one frozen lookup, rebuilt when configuration changes: the hit path does one lookup.
    private volatile FrozenDictionary<string, ProfileState> _profiles;
    private volatile CachingOptions _settings;
    private readonly IDisposable? _optionsChange;

    private FrozenDictionary<string, ProfileState> BuildProfiles(CachingOptions options) =>
        options.Profiles.ToFrozenDictionary(p => p.Key, p => new ProfileState(p.Value, _statistics.CountersFor(p.Key)), StringComparer.Ordinal);

    /// <summary>Identifies this process on the backplane, so it ignores its own messages.</summary>
    public string NodeId { get; } = Guid.NewGuid().ToString("N");

    public CachingOptions Options => _options.CurrentValue;

    /// <summary>Raised after every local invalidation so the backplane can tell the other nodes.</summary>
    public event Func<CacheInvalidation, Task>? Invalidated;

    public string KeyFor(string operation, IEnumerable<KeyValuePair<string, object?>> parameters)
    {
        var settings = _options.CurrentValue;
        return CacheKeys.For(settings.Namespace, settings.SchemaVersion, operation, parameters);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public ValueTask<CacheLookup> GetOrCreateAsync(CacheRequest request, Func<CancellationToken, Task<CachedPayload>> factory, CancellationToken cancellationToken) =>
        GetOrCreateAsync(request, factory, forceRecompute: false, cancellationToken);

    /// <param name="forceRecompute">Skip the cache for this call (an operator's <c>Cache-Control: no-cache</c>).</param>
    public ValueTask<CacheLookup> GetOrCreateAsync(CacheRequest request, Func<CancellationToken, Task<CachedPayload>> factory, bool forceRecompute, CancellationToken cancellationToken) =>
        GetOrCreateAsync(request, factory, forceRecompute ? CacheCallOptions.Recompute : CacheCallOptions.None, cancellationToken);

    /// <param name="flags">
    /// <see cref="CacheCallOptions.Recompute"/>: skip the cache (an operator's <c>Cache-Control: no-cache</c>);
    /// <see cref="CacheCallOptions.SkipLocal"/>: read the shared copy in Redis, not this node's memory (and do not keep
    /// what is read there in memory), for a caller that must see what every node sees;
    /// <see cref="CacheCallOptions.AwaitRedisWrite"/>: on a miss, return only once the value is in Redis too.
    /// </param>
    public ValueTask<CacheLookup> GetOrCreateAsync(CacheRequest request, Func<CancellationToken, Task<CachedPayload>> factory, CacheCallOptions flags, CancellationToken cancellationToken)
    {
        var forceRecompute = (flags & CacheCallOptions.Recompute) != 0;
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(factory);
        // A timestamp only when someone listens to the latency histogram (OpenTelemetry does in every host).
        var started = _metrics.LatencyEnabled ? Stopwatch.GetTimestamp() : 0;
        var settings = _settings;
        if (!_profiles.TryGetValue(request.Profile, out var state))
        {
            throw new InvalidOperationException($"Cache profile '{request.Profile}' is not configured (Caching:Profiles).");
        }
        var profile = state.Profile;
        var useL1 = profile.UseL1 && (flags & CacheCallOptions.SkipLocal) == 0;

        var bypassReason = BypassReason(settings, profile, request.Operation, forceRecompute);
        if (bypassReason is not null)
        {
            return BypassAsync(request, factory, bypassReason, started, cancellationToken);
        }

        // The hit path stays synchronous (no state machine, no allocation but the lookup record) when HybridCache
        // answers from L1: that keeps an L1 hit close to a raw HybridCache hit. It also tells the tier: a Redis read
        // never completes synchronously, so a probe that did was answered from memory. With the lease on, this first look
        // is in memory only: on a miss, MissAsync sends the lease request and the Redis read together. It is not
        // cancellable (it does no I/O): with a token that can be cancelled HybridCache would run it on the thread pool.
        var memoryFirst = useL1 && settings.Lease.Enabled;
        ValueTask<CachedPayload?> probe;
        try
        {
            probe = memoryFirst
                ? _cache.GetOrCreateAsync<CachedPayload?>(request.Key, static _ => ValueTask.FromResult<CachedPayload?>(null),
                    LocalProbe, request.Tags, CancellationToken.None)
                : _cache.GetOrCreateAsync<CachedPayload?>(request.Key, static _ => ValueTask.FromResult<CachedPayload?>(null),
                    ProbeOptions(useL1), request.Tags, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogProbeFailed(ex, request.Key);
            return MissAsync(request, profile, useL1, settings, factory, null, readRedis: false, flags, started, cancellationToken);
        }
        if (!probe.IsCompletedSuccessfully)
        {
            return MissAsync(request, profile, useL1, settings, factory, probe.AsTask(), readRedis: memoryFirst, flags, started, cancellationToken);
        }
#pragma warning disable CA2012 // Read once, and only after IsCompletedSuccessfully: the documented synchronous fast path.
        var completed = probe.Result;
#pragma warning restore CA2012
        if (completed is null)
        {
            return MissAsync(request, profile, useL1, settings, factory, null, readRedis: memoryFirst, flags, started, cancellationToken);
        }
        RecordL1Hit(state, completed, started);
        return new ValueTask<CacheLookup>(new CacheLookup(completed, CacheOutcome.Hit, CacheTier.L1, null, null));
    }

    /// <summary>
    /// How much longer the answer stays fresh in the cache: its TTL (the same pure decision that stored it) less its
    /// age. Null when it is not cached (bypass, not admitted) or served stale: such an answer must be revalidated.
    /// </summary>
    public TimeSpan? FreshFor(CacheRequest request, CacheLookup lookup)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (lookup.Outcome is CacheOutcome.Stale or CacheOutcome.Bypass || lookup.Payload is null
            || !_profiles.TryGetValue(request.Profile, out var state))
        {
            return null;
        }
        var ttl = lookup.Ttl ?? CachePolicy.Decide(state.Profile, _settings.Admission, request.Operation, lookup.Payload.CostMs, lookup.Payload.Body.Length) switch
        {
            { Store: true } decision => decision.Ttl,
            _ => (TimeSpan?)null,
        };
        if (ttl is null)
        {
            return null;
        }
        var remaining = lookup.Payload.CreatedAt + ttl.Value - _time.GetUtcNow();
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    private string? BypassReason(CachingOptions settings, CacheProfile profile, string operation, bool forceRecompute) =>
        !settings.Enabled ? "caching disabled"
        : forceRecompute ? "recompute requested"
        : profile.NeverCache ? "profile never caches"
        : settings.Admission.ExcludedOperations.Count > 0 && settings.Admission.ExcludedOperations.Contains(operation) ? "operation excluded"
        : _anyCheapOperation && IsKnownCheap(operation) ? "cheaper to recompute"
        : null;

    /// <summary>
    /// The synchronous L1 read, for callers that can use an answer without awaiting: true with the hit when this
    /// node's memory holds the entry; false, having touched neither Redis nor the source, when it does not or when
    /// the request would not be served from L1 anyway (bypass, L1 off for the profile). On false, call
    /// <see cref="GetOrCreateAsync(CacheRequest, Func{CancellationToken, Task{CachedPayload}}, bool, CancellationToken)"/>.
    /// HybridCache has no synchronous read; returning the hit by value, without a ValueTask around it, is what brings
    /// our hit close to a raw HybridCache hit.
    /// </summary>
    public bool TryGetLocal(CacheRequest request, out CacheLookup lookup)
    {
        ArgumentNullException.ThrowIfNull(request);
        lookup = default;
        var settings = _settings;
        if (!_profiles.TryGetValue(request.Profile, out var state) || !state.Profile.UseL1
            || BypassReason(settings, state.Profile, request.Operation, forceRecompute: false) is not null)
        {
            return false;
        }
        var started = _metrics.LatencyEnabled ? Stopwatch.GetTimestamp() : 0;
        ValueTask<CachedPayload?> probe;
        try
        {
            probe = _cache.GetOrCreateAsync<CachedPayload?>(request.Key, static _ => ValueTask.FromResult<CachedPayload?>(null),
                LocalProbe, request.Tags, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogProbeFailed(ex, request.Key);
            return false;
        }
        if (!probe.IsCompletedSuccessfully)
        {
            // Consume it exactly once, whatever it turns out to be; the caller goes the asynchronous way.
            Observe(probe.AsTask());
            return false;
        }
#pragma warning disable CA2012 // Read once, and only after IsCompletedSuccessfully.
        if (probe.Result is not { } payload)
#pragma warning restore CA2012
        {
            return false;
        }
        RecordL1Hit(state, payload, started);
        lookup = new CacheLookup(payload, CacheOutcome.Hit, CacheTier.L1, null, null);
        return true;
    }

    private void RecordL1Hit(ProfileState state, CachedPayload payload, long started)
    {
        CacheStatistics.RecordL1Hit(state.Counters, payload.CostMs);
        if (started != 0 && Random.Shared.Next(CacheMetrics.L1LatencySampling) == 0)
        {
            _metrics.Latency(TierName(CacheTier.L1), ResultName(CacheOutcome.Hit), Stopwatch.GetElapsedTime(started));
        }
    }

    private async ValueTask<CacheLookup> BypassAsync(CacheRequest request, Func<CancellationToken, Task<CachedPayload>> factory, string reason,
        long started, CancellationToken cancellationToken)
    {
        var computed = await factory(cancellationToken);
        return Record(request, new CacheLookup(computed, CacheOutcome.Bypass, CacheTier.Source, null, reason), started);
    }

    /// <param name="pendingProbe">The probe under way, if any: the Redis read, or with <paramref name="readRedis"/> the look in memory.</param>
    /// <param name="readRedis">Only memory was looked in: Redis is still to be read.</param>
    private async ValueTask<CacheLookup> MissAsync(CacheRequest request, CacheProfile profile, bool useL1, CachingOptions settings,
        Func<CancellationToken, Task<CachedPayload>> factory, Task<CachedPayload?>? pendingProbe, bool readRedis, CacheCallOptions flags,
        long started, CancellationToken cancellationToken)
    {
        InFlight? computation = null;
        LeaseRequest? leaseRequest = null;
        if (readRedis && pendingProbe is not null)
        {
            // The look in memory did not finish synchronously (HybridCache's L1 read normally does).
            if (await ObservedAsync(pendingProbe, request.Key) is { } local)
            {
                return Record(request, new CacheLookup(local, CacheOutcome.Hit, CacheTier.L1, null, null), started);
            }
            pendingProbe = null;
        }
        if (readRedis)
        {
            // L1 missed, with the lease on. If Redis misses too, this node's leader will need the key's lease, so the first
            // caller takes the slot now and sends the lease request, then the Redis read, without waiting in between (one
            // connection pipelines them): a miss waits for one round trip, not two.
            var early = new InFlight(request, _time.GetUtcNow().UtcTicks);
            if (_inFlight.TryAdd(request.Key, early))
            {
                // Won the slot: the same re-check of L1 as below, before anything is asked of Redis.
                if (await ProbeValidAsync(request, LocalProbe) is { } stored)
                {
                    Settle(early, stored);
                    return Record(request, new CacheLookup(stored, CacheOutcome.Hit, CacheTier.L1, null, null), started);
                }
                computation = early;
                leaseRequest = _leases.Request(settings.Namespace, request.Key, settings.Lease);
            }
            try
            {
                // The leader reads for whoever joins its slot: its own caller giving up does not cancel that.
                // What it finds counts as an L2 hit, even if it completed synchronously: L1 has just missed.
                pendingProbe = _cache.GetOrCreateAsync<CachedPayload?>(request.Key, static _ => ValueTask.FromResult<CachedPayload?>(null),
                    ProbeWithL1, request.Tags, computation is null ? cancellationToken : CancellationToken.None).AsTask();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogProbeFailed(ex, request.Key);
            }
        }

        var hit = pendingProbe is null ? null : await ObservedAsync(pendingProbe, request.Key);
        if (hit is not null)
        {
            if (!_invalidations.InvalidatedSince(request, hit.CreatedAt.UtcTicks))
            {
                if (computation is not null)
                {
                    Settle(computation, hit);
                    ReleaseUnused(leaseRequest);
                }
                return Record(request, new CacheLookup(hit, CacheOutcome.Hit, CacheTier.L2, null, null), started);
            }
            // Computed before an invalidation this node has applied, and written to Redis after it (by a node that had not
            // heard of it yet): stale everywhere, so it goes from L1 (where the probe just put it) and from Redis.
            await RemoveQuietlyAsync(request.Key);
        }

        InFlight shared;
        if (computation is not null)
        {
            shared = computation;
        }
        else
        {
            computation = new InFlight(request, _time.GetUtcNow().UtcTicks);
            shared = _inFlight.GetOrAdd(request.Key, computation);
            if (shared == computation)
            {
                // Won the slot. A caller whose probe began before the previous leader stored the value, and who arrives after
                // that leader gave the slot up, finds it in memory now: the leader writes L1 before it gives the slot up
                // (and keeps the slot until its Redis write is done, for profiles that live in Redis only). Where this
                // re-check reads Redis, the lease request goes alongside it.
                if (!useL1 && settings.Lease.Enabled)
                {
                    leaseRequest = _leases.Request(settings.Namespace, request.Key, settings.Lease);
                }
                if (await ProbeValidAsync(request, useL1 ? LocalProbe : ProbeWithoutL1) is { } stored)
                {
                    Settle(computation, stored);
                    ReleaseUnused(leaseRequest);
                    return Record(request, new CacheLookup(stored, CacheOutcome.Hit, useL1 ? CacheTier.L1 : CacheTier.L2, null, null), started);
                }
            }
        }

        TimeSpan? ttl = null;
        string? reason = null;
        if (shared == computation)
        {
            // Across the cluster: one node computes under a lease in Redis, the others wait for its value.
            CacheLease? lease = null;
            if (settings.Lease.Enabled)
            {
                (lease, var fromAnotherNode) = await CoordinateAsync(request, settings, leaseRequest);
                if (fromAnotherNode is not null)
                {
                    Settle(computation, fromAnotherNode);
                    return Record(request, new CacheLookup(fromAnotherNode, CacheOutcome.Hit, CacheTier.L2, null, null), started);
                }
            }
            // The leader computes for everyone waiting on this key; a caller that gives up does not cancel the others.
            try
            {
                var payload = await factory(CancellationToken.None);
                (ttl, reason, var distributedWrite) = await StoreLocallyAsync(request, profile, settings, payload, computation.StartedAt);
                // The caller has its answer; the Redis write follows, and the slot is given up once it is done.
                computation.Written = CompleteInBackground(request, computation, payload, distributedWrite, lease);
                computation.Completion.SetResult(payload);
            }
            catch (Exception ex)
            {
                computation.Completion.SetException(ex);
                _inFlight.TryRemove(new KeyValuePair<string, InFlight>(request.Key, computation));
                _ = ReleaseAsync(request, lease, stored: false);
            }
        }

        try
        {
            var payload = await shared.Completion.Task.WaitAsync(cancellationToken);
            if ((flags & CacheCallOptions.AwaitRedisWrite) != 0 && shared.Written is { } written)
            {
                await written.WaitAsync(cancellationToken);
            }
            return Record(request, new CacheLookup(payload, CacheOutcome.Miss, CacheTier.Source, ttl, reason), started);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && _lastGood.TryGetValue(request.Key, out CachedPayload? stale) && stale is not null)
        {
            LogServedStale(ex, request.Key, _time.GetUtcNow() - stale.CreatedAt);
            return Record(request, new CacheLookup(stale, CacheOutcome.Stale, CacheTier.L1, null, ex.Message), started);
        }
    }

    /// <summary>Ends a slot with a value that was found rather than computed: whoever joined the slot gets it.</summary>
    private void Settle(InFlight computation, CachedPayload value)
    {
        computation.Completion.SetResult(value);
        _inFlight.TryRemove(new KeyValuePair<string, InFlight>(computation.Request.Key, computation));
    }

    /// <summary>
    /// A lease asked for alongside a read that then found the value: given back once its answer is in, off the caller's
    /// path. Nothing is published: the value is already in Redis for anyone who waited on this lease meanwhile.
    /// </summary>
    private void ReleaseUnused(LeaseRequest? sent)
    {
        if (sent is null)
        {
            return;
        }
        var leases = _leases;
        _ = Task.Run(async () =>
        {
            try
            {
                if (await sent.ReceiveAsync() is { } lease)
                {
                    await lease.DisposeAsync();
                    leases.Record(LeaseOutcome.Returned);
                }
            }
            catch (Exception)
            {
                // The request failed or timed out (a failed release logs itself): the caller has its value, and a lease
                // taken regardless lapses by itself.
            }
        });
    }

    /// <summary>Consumes a probe nobody needs any more, so that a failure of it is observed.</summary>
    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    /// <summary>Starts <see cref="CompleteInBackgroundAsync"/> on the thread pool: even its synchronous start (serializing,
    /// handing the write to the connection) is not the caller's to wait for.</summary>
    private Task CompleteInBackground(CacheRequest request, InFlight computation, CachedPayload payload,
        HybridCacheEntryOptions? distributedWrite, CacheLease? lease) =>
        Task.Run(() => CompleteInBackgroundAsync(request, computation, payload, distributedWrite, lease));

    /// <summary>A probe's answer, or null (logged) when it failed; a cancellation is the caller's and propagates.</summary>
    private async Task<CachedPayload?> ObservedAsync(Task<CachedPayload?> probe, string key)
    {
        try
        {
            return await probe;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogProbeFailed(ex, key);
            return null;
        }
    }

    /// <summary>A stored value no invalidation applied here has outdated, or null; never computes.</summary>
    private async ValueTask<CachedPayload?> ProbeValidAsync(CacheRequest request, HybridCacheEntryOptions probe)
    {
        try
        {
            var found = await _cache.GetOrCreateAsync<CachedPayload?>(request.Key, static _ => ValueTask.FromResult<CachedPayload?>(null),
                probe, request.Tags, CancellationToken.None);
            return found is not null && !_invalidations.InvalidatedSince(request, found.CreatedAt.UtcTicks) ? found : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogProbeFailed(ex, request.Key);
            return null;
        }
    }

    /// <summary>
    /// Admission, then the L1 write (before the caller gets the value, so the next caller finds it in memory). Nothing is
    /// stored when the key, one of its tags or everything was invalidated after the computation began: its value may
    /// predate the change. Returns what the Redis write, which follows in the background, should store.
    /// </summary>
    private async Task<(TimeSpan? Ttl, string Reason, HybridCacheEntryOptions? DistributedWrite)> StoreLocallyAsync(
        CacheRequest request, CacheProfile profile, CachingOptions settings, CachedPayload payload, long startedAt)
    {
        var decision = CachePolicy.Decide(profile, settings.Admission, request.Operation, payload.CostMs, payload.Body.Length);
        if (!decision.Store)
        {
            if (payload.CostMs < settings.Admission.MinCostMs)
            {
                _cheapOperations[request.Operation] = _time.GetUtcNow();
                _anyCheapOperation = true;
            }
            return (null, decision.Reason, null);
        }
        if (_invalidations.InvalidatedSince(request, startedAt))
        {
            return (null, InvalidatedWhileComputing, null);
        }
        if (decision.UseL1)
        {
            await _cache.SetAsync(request.Key, payload, new HybridCacheEntryOptions
            {
                Expiration = decision.Ttl,
                LocalCacheExpiration = decision.Ttl,
                Flags = HybridCacheEntryFlags.DisableDistributedCacheWrite,
            }, request.Tags, CancellationToken.None);
            // An invalidation recorded between the check above and this write would find nothing to evict: check again.
            if (_invalidations.InvalidatedSince(request, startedAt))
            {
                await RemoveQuietlyAsync(request.Key, localOnly: true);
                return (null, InvalidatedWhileComputing, null);
            }
        }
        _lastGood.Set(request.Key, payload, new MemoryCacheEntryOptions
        {
            AbsoluteExpirationRelativeToNow = decision.Ttl + settings.StaleGracePeriod,
            Size = Math.Max(1, payload.Body.Length),
        });
        return (decision.Ttl, decision.Reason, new HybridCacheEntryOptions
        {
            Expiration = decision.Ttl,
            LocalCacheExpiration = decision.Ttl,
            Flags = HybridCacheEntryFlags.DisableLocalCacheWrite,
        });
    }

    public const string InvalidatedWhileComputing = "not cached: invalidated while computing";

    /// <summary>
    /// The Redis write of a fresh value, after its caller has it. Skipped when an invalidation came in meanwhile; one
    /// that comes in after it is still honoured by readers, who compare the value's start time with the invalidations
    /// they have applied (<see cref="InvalidationRecord"/>). The slot is given up when this is done.
    /// </summary>
    private async Task CompleteInBackgroundAsync(CacheRequest request, InFlight computation, CachedPayload payload,
        HybridCacheEntryOptions? distributedWrite, CacheLease? lease)
    {
        var stored = false;
        try
        {
            if (distributedWrite is not null)
            {
                if (BeforeDistributedWrite is { } hook)
                {
                    await hook(request);
                }
                // Fencing: a holder whose lease lapsed (another node took over) leaves the write to the newer holder.
                if (!_invalidations.InvalidatedSince(request, computation.StartedAt) && lease?.Held != false)
                {
                    await _cache.SetAsync(request.Key, payload, distributedWrite, request.Tags, CancellationToken.None);
                    stored = true;
                }
            }
        }
        catch (Exception ex)
        {
            LogBackgroundWriteFailed(ex, request.Key);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, InFlight>(request.Key, computation));
            await ReleaseAsync(request, lease, stored);
        }
    }

    /// <summary>Gives the lease back and tells the waiting nodes whether the value is in Redis for them.</summary>
    private async Task ReleaseAsync(CacheRequest request, CacheLease? lease, bool stored)
    {
        if (lease is null)
        {
            return;
        }
        try
        {
            await lease.DisposeAsync();
            await RaiseAsync(new CacheInvalidation(NodeId, stored ? CacheInvalidationKind.Ready : CacheInvalidationKind.NotStored, request.Key));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogBackgroundWriteFailed(ex, request.Key);
        }
    }

    /// <summary>
    /// Takes the key's lease, or waits for the node that holds it: told by the backplane when its value is in Redis,
    /// looking there every <see cref="CacheLeaseOptions.PollInterval"/> in any case. When the lease lapses or is released
    /// without a value, this node tries to take it over; after <see cref="CacheLeaseOptions.MaxWait"/>, or while Redis
    /// does not answer, it computes alone. Never a deadlock, never an unbounded wait.
    /// </summary>
    /// <param name="sentAlready">A lease request sent alongside the Redis read: its answer is this node's first attempt.</param>
    private async Task<(CacheLease? Lease, CachedPayload? Value)> CoordinateAsync(CacheRequest request, CachingOptions settings,
        LeaseRequest? sentAlready)
    {
        var options = settings.Lease;
        var deadline = _time.GetUtcNow() + options.MaxWait;
        var waited = false;
        try
        {
            while (true)
            {
                // A request sent ahead of this node's Redis read was answered before that read ran; any other is taken
                // after this node last looked in Redis.
                var aheadOfRead = sentAlready is not null;
                var attempt = sentAlready?.ReceiveAsync() ?? _leases.TryAcquireAsync(settings.Namespace, request.Key, options);
                sentAlready = null;
                if (await attempt is { } lease)
                {
                    // A holder writes its value before it gives the lease up: one that did so between this node's last
                    // look and its lease (a miss, then "not held") left the value for it. Look once more, or the value
                    // is computed twice.
                    if (!aheadOfRead && await ProbeValidAsync(request, ProbeWithL1) is { } written)
                    {
                        await lease.DisposeAsync();
                        _leases.Record(LeaseOutcome.Waited);
                        return (null, written);
                    }
                    _leases.Record(waited ? LeaseOutcome.TakenOver : LeaseOutcome.Won);
                    return (lease, null);
                }
                waited = true;
                while (true)
                {
                    if (_time.GetUtcNow() >= deadline)
                    {
                        _leases.Record(LeaseOutcome.Bypassed);
                        return (null, null);
                    }
                    var ready = _readyWaiters.GetOrAdd(request.Key, static _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
                    try
                    {
                        await ready.Task.WaitAsync(options.PollInterval, _time);
                    }
                    catch (TimeoutException)
                    {
                    }
                    if (await ProbeValidAsync(request, ProbeWithL1) is { } value)
                    {
                        _leases.Record(LeaseOutcome.Waited);
                        return (null, value);
                    }
                    if (ready.Task.IsCompletedSuccessfully && !ready.Task.Result)
                    {
                        // The holder computed a value that is not kept (cheap, too large): each node computes its own.
                        _leases.Record(LeaseOutcome.Bypassed);
                        return (null, null);
                    }
                    if (!await _leases.IsHeldAsync(settings.Namespace, request.Key, options))
                    {
                        break; // lapsed (its holder died) or released without a value: take it over
                    }
                }
            }
        }
        catch (Exception ex)
        {
            // Whatever went wrong with Redis, this node's callers still get an answer: it computes alone.
            LogLeaseUnavailable(request.Key, ex.GetType().Name + ": " + ex.Message);
            _leases.Record(LeaseOutcome.Bypassed);
            return (null, null);
        }
    }

    /// <summary>When this node applied each invalidation (tests poll it to know a remote one arrived).</summary>
    internal InvalidationRecord Invalidations => _invalidations;

    /// <summary>Computations under way on this node (tests wait for a background write to finish).</summary>
    internal int InFlightCount => _inFlight.Count;

    /// <summary>Test seam: runs before each background Redis write (to hold one back past an invalidation).</summary>
    internal Func<CacheRequest, Task>? BeforeDistributedWrite { get; set; }

    private async Task RemoveQuietlyAsync(string key, bool localOnly = false)
    {
        try
        {
            if (localOnly)
            {
                _l1.Remove(key);
            }
            else
            {
                await _cache.RemoveAsync(key, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogProbeFailed(ex, key);
        }
    }

    /// <summary>One computation under way on this node: who asked, when it began, and its result for everyone waiting.</summary>
    private sealed class InFlight(CacheRequest request, long startedAt)
    {
        public CacheRequest Request { get; } = request;
        public long StartedAt { get; } = startedAt;
        public TaskCompletionSource<CachedPayload> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The background Redis write and release of a computed value (set before <see cref="Completion"/>); it never faults.</summary>
        public Task? Written { get; set; }
    }

    /// <summary>A computation that began before an invalidation no longer takes new callers: they start a fresh one.</summary>
    private void ForgetInFlight(Func<CacheRequest, bool> invalidated)
    {
        foreach (var (key, computation) in _inFlight)
        {
            if (invalidated(computation.Request))
            {
                _inFlight.TryRemove(new KeyValuePair<string, InFlight>(key, computation));
            }
        }
    }

    // "Cheap" is remembered for a minute, then measured again: data and plans change.
    private bool IsKnownCheap(string operation) =>
        _cheapOperations.TryGetValue(operation, out var since) && _time.GetUtcNow() - since < TimeSpan.FromMinutes(1);

    // L1 only: on a local miss HybridCache neither reads Redis nor calls the (null) factory.
    private static readonly HybridCacheEntryOptions LocalProbe = new()
    {
        Flags = HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableDistributedCache,
    };

    private static HybridCacheEntryOptions ProbeOptions(bool useL1) => useL1 ? ProbeWithL1 : ProbeWithoutL1;

    private static readonly HybridCacheEntryOptions ProbeWithL1 = new()
    {
        Flags = HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private static readonly HybridCacheEntryOptions ProbeWithoutL1 = new()
    {
        Flags = HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableDistributedCacheWrite | HybridCacheEntryFlags.DisableLocalCache,
    };

    private CacheLookup Record(CacheRequest request, CacheLookup lookup, long started) =>
        Record(_profiles.TryGetValue(request.Profile, out var state) ? state.Counters : _statistics.CountersFor(request.Profile), lookup, started);

    private CacheLookup Record(CacheStatistics.ProfileCounters counters, CacheLookup lookup, long started)
    {
        var saved = lookup.Outcome is CacheOutcome.Hit or CacheOutcome.Stale ? lookup.Payload.CostMs : 0;
        CacheStatistics.Record(counters, lookup.Outcome, lookup.Tier, saved);
        if (started != 0 && (lookup.Tier != CacheTier.L1 || Random.Shared.Next(CacheMetrics.L1LatencySampling) == 0))
        {
            _metrics.Latency(TierName(lookup.Tier), ResultName(lookup.Outcome), Stopwatch.GetElapsedTime(started));
        }
        return lookup;
    }

    public async Task InvalidateKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        RecordKeyInvalidation(key);
        await _cache.RemoveAsync(key, cancellationToken);
        _metrics.Invalidated("key", "local");
        await RaiseAsync(new CacheInvalidation(NodeId, CacheInvalidationKind.Key, key));
    }

    public async Task InvalidateTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        RecordTagInvalidation(tag);
        await _cache.RemoveByTagAsync(tag, cancellationToken);
        _metrics.Invalidated("tag", "local");
        await RaiseAsync(new CacheInvalidation(NodeId, CacheInvalidationKind.Tag, tag));
    }

    public async Task InvalidateAllAsync(CancellationToken cancellationToken = default)
    {
        RecordAllInvalidation();
        await _cache.RemoveByTagAsync("*", cancellationToken);
        _lastGood.Clear();
        _cheapOperations.Clear();
        _metrics.Invalidated("all", "local");
        await RaiseAsync(new CacheInvalidation(NodeId, CacheInvalidationKind.All, "*"));
    }

    /// <summary>An invalidation another node published: applied here without publishing it again.</summary>
    public async Task ApplyRemoteAsync(CacheInvalidation invalidation)
    {
        ArgumentNullException.ThrowIfNull(invalidation);
        if (invalidation.Origin == NodeId)
        {
            return;
        }
        if (invalidation.Kind is CacheInvalidationKind.Ready or CacheInvalidationKind.NotStored)
        {
            // Not an invalidation: another node's value for a key this node may be waiting on.
            if (_readyWaiters.TryRemove(invalidation.Value, out var waiter))
            {
                waiter.TrySetResult(invalidation.Kind == CacheInvalidationKind.Ready);
            }
            return;
        }
        switch (invalidation.Kind)
        {
            case CacheInvalidationKind.Key:
                RecordKeyInvalidation(invalidation.Value);
                await _cache.RemoveAsync(invalidation.Value);
                break;
            case CacheInvalidationKind.Tag:
                RecordTagInvalidation(invalidation.Value);
                // Also records the tag's invalidation time locally: HybridCache reads a tag's time from L2 only
                // the first time it meets the tag, so without this a node that had read it would never see it change.
                await _cache.RemoveByTagAsync(invalidation.Value);
                break;
            default:
                RecordAllInvalidation();
                await _cache.RemoveByTagAsync("*");
                _lastGood.Clear();
                _cheapOperations.Clear();
                break;
        }
        _metrics.Invalidated(invalidation.Kind.ToString().ToLowerInvariant(), "remote");
    }

    // Recorded before the eviction: a computation that began earlier either sees the record when it stores, or stores
    // before the eviction, which then removes it.
    private void RecordKeyInvalidation(string key)
    {
        _invalidations.Key(key);
        ForgetInFlight(r => r.Key == key);
    }

    private void RecordTagInvalidation(string tag)
    {
        _invalidations.Tag(tag);
        ForgetInFlight(r => r.Tags.Contains(tag));
    }

    private void RecordAllInvalidation()
    {
        _invalidations.All();
        ForgetInFlight(static _ => true);
    }

    /// <summary>Drops every L1 entry (after a Redis outage, when invalidations may have been missed).</summary>
    public void ClearLocal()
    {
        _l1.Inner.Clear();
    }

    private async Task RaiseAsync(CacheInvalidation invalidation)
    {
        if (Invalidated is { } handler)
        {
            await handler(invalidation);
        }
    }

    public CacheStatisticsSnapshot Statistics() => _statistics.Snapshot(_options.CurrentValue.Enabled);

    public static string TierName(CacheTier tier) => tier switch { CacheTier.L1 => "l1", CacheTier.L2 => "l2", _ => "source" };

    public static string ResultName(CacheOutcome outcome) => outcome switch
    {
        CacheOutcome.Hit => "hit",
        CacheOutcome.Miss => "miss",
        CacheOutcome.Stale => "stale",
        _ => "bypass",
    };

    public void Dispose()
    {
        _optionsChange?.Dispose();
        _lastGood.Dispose();
    }

    [LoggerMessage(LogLevel.Warning, "Cache probe for {Key} failed; treating it as a miss")]
    private partial void LogProbeFailed(Exception ex, string key);

    [LoggerMessage(LogLevel.Warning, "Cache lease for {Key} unavailable ({Message}): computing on this node alone")]
    private partial void LogLeaseUnavailable(string key, string message);

    [LoggerMessage(LogLevel.Warning, "Writing {Key} to Redis after answering failed; other nodes will compute it themselves")]
    private partial void LogBackgroundWriteFailed(Exception ex, string key);

    [LoggerMessage(LogLevel.Warning, "Recomputing {Key} failed; serving the last good value ({Age} old)")]
    private partial void LogServedStale(Exception ex, string key, TimeSpan age);
}

/// <summary>Per-call choices for <see cref="AdaptiveCache.GetOrCreateAsync(CacheRequest, Func{CancellationToken, Task{CachedPayload}}, CacheCallOptions, CancellationToken)"/>.</summary>
[Flags]
public enum CacheCallOptions
{
    None = 0,
    /// <summary>Compute, skipping the cache (the result is not stored either).</summary>
    Recompute = 1,
    /// <summary>Read Redis, not this node's memory, and keep nothing read in memory.</summary>
    SkipLocal = 2,
    /// <summary>
    /// On a miss, return once the value's Redis write is done (or failed), as raw HybridCache does, instead of as soon as
    /// the factory returns: for a caller that tells others the value is in the shared cache (the cache-warm job).
    /// </summary>
    AwaitRedisWrite = 4,
}

public enum CacheInvalidationKind
{
    Key,
    Tag,
    All,
    /// <summary>Not an invalidation: a lease holder's value for this key is in Redis.</summary>
    Ready,
    /// <summary>Not an invalidation: a lease holder computed this key's value but did not keep it.</summary>
    NotStored,
}

public sealed record CacheInvalidation(string Origin, CacheInvalidationKind Kind, string Value);
