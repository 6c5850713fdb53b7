using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Jobs;

/// <summary>
/// Drains the queue: leases due jobs in batches (woken by NOTIFY, polling as fallback), runs them on the handlers
/// registered for their types within the global and per-type concurrency and rate limits, heartbeats their leases,
/// writes completions in batches, retries failures with backoff, and rescues any processor's expired leases.
/// </summary>
public sealed partial class JobProcessor : BackgroundService, IJobProgressSink
{
    private readonly PostgresJobQueue _queue;
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<JobsOptions> _options;
    private readonly TimeProvider _time;
    private readonly JobNotificationListener? _listener;
    private readonly JobMetrics _metrics;
    private readonly ILogger<JobProcessor> _logger;
    private readonly Dictionary<string, JobHandlerRegistration> _handlers;
    private readonly Dictionary<string, TypeGate> _gates;
    private readonly string[] _plainTypes;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<(RunningUnit Unit, JobCompletion Completion)> _completions = Channel.CreateUnbounded<(RunningUnit, JobCompletion)>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<long, RunningJob> _running = new();
    private readonly ConcurrentDictionary<RunningUnit, Task> _units = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _active;

    public JobProcessor(PostgresJobQueue queue, IEnumerable<JobHandlerRegistration> handlers, IServiceScopeFactory scopes,
        IOptionsMonitor<JobsOptions> options, TimeProvider time, JobMetrics metrics, ILogger<JobProcessor> logger,
        JobNotificationListener? listener = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _queue = queue;
        _scopes = scopes;
        _options = options;
        _time = time;
        _listener = listener;
        _metrics = metrics;
        _logger = logger;
        _handlers = handlers.GroupBy(h => h.Type, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var settings = options.CurrentValue;
        _gates = _handlers.Values
            .Select(h => (Handler: h, Options: settings.For(h.Type)))
            .Where(x => x.Handler.IsBatch || x.Options.Concurrency is not null || x.Options.RatePerSecond is not null)
            .ToDictionary(x => x.Handler.Type, x => new TypeGate(x.Handler, x.Options), StringComparer.Ordinal);
        _plainTypes = [.. _handlers.Keys.Where(t => !_gates.ContainsKey(t))];
        Owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
    }

    /// <summary>The lease owner name this processor writes: host/pid/random.</summary>
    public string Owner { get; }

    /// <summary>Completes once the schema is migrated and the processor fetches.</summary>
    public Task Ready => _ready.Task;

    public int ActiveCount => Volatile.Read(ref _active);

    /// <summary>The retry delay after failed attempt <paramref name="attempt"/> (1-based): exponential, capped, with jitter.</summary>
    public static TimeSpan Backoff(int attempt, JobsOptions options, double random)
    {
        ArgumentNullException.ThrowIfNull(options);
        var exponential = options.BackoffBase.TotalSeconds * Math.Pow(2, Math.Clamp(attempt - 1, 0, 40));
        var capped = Math.Min(exponential, options.BackoffMax.TotalSeconds);
        var jittered = capped * (1 + options.BackoffJitter * (2 * random - 1));
        return TimeSpan.FromSeconds(Math.Max(0, jittered));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await MigrateAsync(stoppingToken);
        using var subscription = _listener?.Subscribe(OnNotification);
        using var housekeepingStop = new CancellationTokenSource();
        var housekeeping = HousekeepingLoopAsync(housekeepingStop.Token);
        var completer = CompletionLoopAsync();
        _ready.TrySetResult();
        try
        {
            await FetchLoopAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutdown: let running jobs finish for a while, then cancel them and give their leases back.
        var all = Task.WhenAll(_units.Values);
        if (await Task.WhenAny(all, Task.Delay(_options.CurrentValue.ShutdownTimeout, _time, CancellationToken.None)) != all)
        {
            await _hardStop.CancelAsync();
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(5), _time, CancellationToken.None));
        }
        _completions.Writer.TryComplete();
        await completer;
        var leftover = _running.Keys.ToArray();
        if (leftover.Length > 0)
        {
            await _queue.ReleaseAsync(Owner, leftover, CancellationToken.None);
        }
        await housekeepingStop.CancelAsync();
        await housekeeping.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public override void Dispose()
    {
        _hardStop.Dispose();
        foreach (var gate in _gates.Values)
        {
            gate.Limiter?.Dispose();
        }
        base.Dispose();
    }

    private async Task MigrateAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await JobSchema.MigrateAsync(_queue.DataSource, stoppingToken);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogMigrationFailed(ex, attempt);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), _time, stoppingToken);
            }
        }
    }

    private void OnNotification(string channel, string payload)
    {
        if (channel == PostgresJobQueue.CancelChannel)
        {
            if (long.TryParse(payload, out var id) && _running.TryGetValue(id, out var job))
            {
                job.RequestCancel();
            }
            return;
        }
        Wake();
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private async Task FetchLoopAsync(CancellationToken stoppingToken)
    {
        var settings = _options.CurrentValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = settings.PollInterval;
            var more = false;
            try
            {
                (more, var rateWait) = await FetchOnceAsync(settings, stoppingToken);
                if (rateWait is { } w && w < wait)
                {
                    wait = w;
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogFetchFailed(ex);
            }
            if (more)
            {
                continue;
            }
            // Drain any wake-up that arrived while fetching: that fetch already saw its job. Then sleep until woken.
            while (_wake.Reader.TryRead(out _)) { }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(wait);
            try
            {
                await _wake.Reader.WaitToReadAsync(timeout.Token);
                _wake.Reader.TryRead(out _);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
            }
            settings = _options.CurrentValue;
        }
    }

    /// <summary>One round of fetches. Returns whether a fetch came back full (so there is probably more), and how soon a rate limit frees up.</summary>
    private async Task<(bool More, TimeSpan? RateWait)> FetchOnceAsync(JobsOptions settings, CancellationToken cancellationToken)
    {
        var more = false;
        TimeSpan? rateWait = null;
        var free = settings.Concurrency - Volatile.Read(ref _active);
        // Limited and batch types first, each capped by its own limits; then every other type in one fetch.
        foreach (var gate in _gates.Values)
        {
            if (free <= 0)
            {
                return (false, rateWait);
            }
            var calls = Math.Min(free, gate.Options.Concurrency is { } limit ? limit - Volatile.Read(ref gate.Active) : free);
            if (calls <= 0)
            {
                continue;
            }
            var cap = gate.Handler.IsBatch ? gate.Options.BatchSize : Math.Min(calls, settings.FetchBatchSize);
            if (gate.Limiter is { } limiter)
            {
                var permits = (int)Math.Min(int.MaxValue, limiter.GetStatistics()?.CurrentAvailablePermits ?? 0);
                cap = Math.Min(cap, permits);
                if (cap <= 0)
                {
                    rateWait = rateWait is { } r && r < gate.RefillPeriod ? r : gate.RefillPeriod;
                    continue;
                }
            }
            var jobs = await _queue.FetchAsync(Owner, [gate.Handler.Type], cap, cancellationToken);
            if (jobs.Count == 0)
            {
                continue;
            }
            if (gate.Limiter is { } taken)
            {
                using var lease = taken.AttemptAcquire(jobs.Count);
            }
            if (gate.Handler.IsBatch)
            {
                Dispatch(gate.Handler, gate, jobs);
                free--;
                more |= jobs.Count == cap && calls > 1;
            }
            else
            {
                foreach (var job in jobs)
                {
                    Dispatch(gate.Handler, gate, [job]);
                }
                free -= jobs.Count;
                more |= jobs.Count == cap;
            }
        }
        if (free > 0 && _plainTypes.Length > 0)
        {
            var cap = Math.Min(free, settings.FetchBatchSize);
            var jobs = await _queue.FetchAsync(Owner, _plainTypes, cap, cancellationToken);
            foreach (var job in jobs)
            {
                Dispatch(_handlers[job.Type], null, [job]);
            }
            more |= jobs.Count == cap;
        }
        return (more, rateWait);
    }

    private void Dispatch(JobHandlerRegistration handler, TypeGate? gate, IReadOnlyList<LeasedJob> jobs)
    {
        Interlocked.Increment(ref _active);
        if (gate is not null)
        {
            Interlocked.Increment(ref gate.Active);
        }
        var unit = new RunningUnit(handler, gate, jobs, CancellationTokenSource.CreateLinkedTokenSource(_hardStop.Token));
        foreach (var job in jobs)
        {
            _running[job.Id] = new RunningJob(job, unit);
            _metrics.Started(job.Type, job.AttemptedAt - job.RunAt);
        }
        // On the thread pool: a handler that blocks before its first await must not stall the fetch loop. Registered
        // before it starts, so its own removal at the end always finds it.
        var run = new Task<Task>(() => RunAsync(unit));
        _units[unit] = run.Unwrap();
        run.Start(TaskScheduler.Default);
    }

    private async Task RunAsync(RunningUnit unit)
    {
        var settings = _options.CurrentValue;
        var typeOptions = settings.For(unit.Handler.Type);
        var timeout = unit.Jobs.Min(j => j.Timeout ?? typeOptions.Timeout ?? settings.DefaultTimeout);
        var started = Stopwatch.GetTimestamp();
        var contexts = new List<JobContext>(unit.Jobs.Count);
        try
        {
            foreach (var job in unit.Jobs)
            {
                try
                {
                    contexts.Add(unit.Handler.CreateContext(job, this));
                }
                catch (JsonException ex)
                {
                    // A payload that no longer fits its type will not fit on a retry either.
                    _running.TryRemove(job.Id, out _);
                    await FailAsync(job, "payload does not fit the handler's type: " + ex.Message, discard: true, Stopwatch.GetElapsedTime(started));
                }
            }
            if (contexts.Count == 0)
            {
                return;
            }
            unit.Cancellation.CancelAfter(timeout);
            Exception? failure = null;
            try
            {
                await using var scope = _scopes.CreateAsyncScope();
                await unit.Handler.Invoke(scope.ServiceProvider, contexts, unit.Cancellation.Token);
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            foreach (var context in contexts)
            {
                if (!_running.TryGetValue(context.Id, out var running))
                {
                    continue;
                }
                if (running.LeaseLost)
                {
                    // Another processor rescued it; whatever happened here is not ours to record.
                    _running.TryRemove(context.Id, out _);
                    LogLeaseLost(context.Id);
                }
                else if (failure is null)
                {
                    running.Completing = true;
                    // A throttled last report (say "105 rows") is written with the completion rather than lost.
                    await _completions.Writer.WriteAsync((unit, new JobCompletion(context.Id,
                        context.Result is null ? null : JsonSerializer.Serialize(context.Result, JobCatalog.PayloadJson),
                        running.LastProgressMessage)));
                }
                else if (running.CancelRequested && failure is OperationCanceledException)
                {
                    _running.TryRemove(context.Id, out _);
                    await _queue.MarkCancelledAsync(Owner, context.Id, CancellationToken.None);
                    _metrics.Finished(context.Type, "cancelled", elapsed);
                }
                else if (_hardStop.IsCancellationRequested && failure is OperationCanceledException)
                {
                    // Shutdown: left registered so the processor releases the lease (attempt not counted).
                }
                else
                {
                    _running.TryRemove(context.Id, out _);
                    var timedOut = failure is OperationCanceledException && unit.Cancellation.IsCancellationRequested;
                    var message = timedOut ? $"timed out after {timeout}" : $"{failure.GetType().Name}: {failure.Message}";
                    await FailAsync(context.Job, message, failure is JobDiscardException, elapsed, timedOut ? "timeout" : "error");
                }
            }
        }
        catch (Exception ex)
        {
            LogRecordFailed(ex, unit.Handler.Type);
        }
        finally
        {
            unit.Cancellation.Dispose();
            var wasFull = Interlocked.Decrement(ref _active) == settings.Concurrency - 1;
            var gateWasFull = false;
            if (unit.Gate is { } gate)
            {
                gateWasFull = Interlocked.Decrement(ref gate.Active) == (gate.Options.Concurrency ?? int.MaxValue) - 1;
            }
            _units.TryRemove(unit, out _);
            if (wasFull || gateWasFull)
            {
                Wake();
            }
        }
    }

    private async Task FailAsync(LeasedJob job, string error, bool discard, TimeSpan elapsed, string reason = "error")
    {
        var retryAt = _time.GetUtcNow() + Backoff(job.Attempt, _options.CurrentValue, Random.Shared.NextDouble());
        var state = await _queue.FailAsync(Owner, job.Id, error, retryAt, discard, CancellationToken.None);
        if (state is { } s)
        {
            _metrics.Finished(job.Type, s == JobState.Discarded ? "discarded" : reason, elapsed);
            LogAttemptFailed(job.Id, job.Type, job.Attempt, JobStates.Name(s), error);
        }
    }

    private async Task CompletionLoopAsync()
    {
        var batch = new List<(RunningUnit Unit, JobCompletion Completion)>();
        while (await _completions.Reader.WaitToReadAsync())
        {
            while (batch.Count < 1000 && _completions.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            try
            {
                var done = await _queue.CompleteAsync(Owner, [.. batch.Select(b => b.Completion)], CancellationToken.None);
                foreach (var (unit, completion) in batch)
                {
                    if (_running.TryRemove(completion.Id, out var running) && done.Contains(completion.Id))
                    {
                        _metrics.Finished(unit.Handler.Type, "completed", running.Elapsed);
                    }
                }
            }
            catch (Exception ex)
            {
                // The leases run out and another attempt follows: at-least-once, never lost.
                LogCompleteFailed(ex, batch.Count);
                foreach (var (_, completion) in batch)
                {
                    _running.TryRemove(completion.Id, out _);
                }
            }
            batch.Clear();
        }
    }

    /// <summary>Progress writes, heartbeats, rescues and depth counts, each on its own interval, on one loop.</summary>
    private async Task HousekeepingLoopAsync(CancellationToken cancellationToken)
    {
        var settings = _options.CurrentValue;
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(settings.ProgressInterval.TotalMilliseconds, 50, 1000));
        var lastHeartbeat = _time.GetTimestamp();
        var lastRescue = 0L;
        var lastStatistics = 0L;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(tick, _time, cancellationToken);
                settings = _options.CurrentValue;
                foreach (var job in _running.Values)
                {
                    if (job.TakePendingProgress() is { } progress)
                    {
                        await _queue.SaveProgressAsync(Owner, job.Job.Id, progress.Percent, progress.Message, cancellationToken);
                    }
                }
                if (_time.GetElapsedTime(lastHeartbeat) >= settings.HeartbeatEvery)
                {
                    lastHeartbeat = _time.GetTimestamp();
                    await HeartbeatAsync(cancellationToken);
                }
                if (lastRescue == 0 || _time.GetElapsedTime(lastRescue) >= settings.RescueInterval)
                {
                    lastRescue = _time.GetTimestamp();
                    var rescued = await _queue.RescueExpiredAsync(cancellationToken);
                    if (rescued > 0)
                    {
                        LogRescued(rescued);
                        Wake();
                    }
                }
                if (lastStatistics == 0 || _time.GetElapsedTime(lastStatistics) >= settings.StatisticsInterval)
                {
                    lastStatistics = _time.GetTimestamp();
                    _metrics.Depth((await _queue.StatisticsAsync(TimeSpan.FromMinutes(1), cancellationToken)).Depth);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogHousekeepingFailed(ex);
            }
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var ids = _running.Keys.ToArray();
        if (ids.Length == 0)
        {
            return;
        }
        var held = await _queue.HeartbeatAsync(Owner, ids, cancellationToken);
        foreach (var id in ids)
        {
            if (!_running.TryGetValue(id, out var job))
            {
                continue;
            }
            if (!held.TryGetValue(id, out var cancelRequested))
            {
                // Not running under our lease any more (completed meanwhile, or rescued after a stall).
                if (!job.Completing)
                {
                    job.LoseLease();
                }
            }
            else if (cancelRequested)
            {
                job.RequestCancel();
            }
        }
    }

    ValueTask IJobProgressSink.ReportAsync(long jobId, int percent, string? message, CancellationToken cancellationToken)
    {
        if (!_running.TryGetValue(jobId, out var job))
        {
            return ValueTask.CompletedTask;
        }
        return job.ShouldWriteNow(percent, message, _time, _options.CurrentValue.ProgressInterval)
            ? new ValueTask(_queue.SaveProgressAsync(Owner, jobId, percent, message, cancellationToken))
            : ValueTask.CompletedTask;
    }

    [LoggerMessage(LogLevel.Warning, "Job schema migration attempt {Attempt} failed; retrying")]
    private partial void LogMigrationFailed(Exception ex, int attempt);

    [LoggerMessage(LogLevel.Warning, "Fetching jobs failed; retrying after the poll interval")]
    private partial void LogFetchFailed(Exception ex);

    [LoggerMessage(LogLevel.Warning, "Job {JobId} lost its lease (rescued by another processor); its outcome here is ignored")]
    private partial void LogLeaseLost(long jobId);

    [LoggerMessage(LogLevel.Error, "Recording the outcome of a {Type} job failed; its lease will expire and it will run again")]
    private partial void LogRecordFailed(Exception ex, string type);

    [LoggerMessage(LogLevel.Information, "Job {JobId} ({Type}) attempt {Attempt} failed, now {State}: {Error}")]
    private partial void LogAttemptFailed(long jobId, string type, int attempt, string state, string error);

    [LoggerMessage(LogLevel.Error, "Writing {Count} completions failed; those jobs will run again after their leases expire")]
    private partial void LogCompleteFailed(Exception ex, int count);

    [LoggerMessage(LogLevel.Warning, "Rescued {Count} jobs whose leases expired")]
    private partial void LogRescued(int count);

    [LoggerMessage(LogLevel.Warning, "Job housekeeping (heartbeat, progress, rescue, statistics) failed; retrying")]
    private partial void LogHousekeepingFailed(Exception ex);

    private sealed class TypeGate
    {
        public TypeGate(JobHandlerRegistration handler, JobTypeOptions options)
        {
            Handler = handler;
            Options = options;
            if (options.RatePerSecond is { } rate)
            {
                // Fine-grained refills for high rates, one token per 1/rate s for low ones.
                var (tokens, period) = rate >= 10 ? ((int)Math.Ceiling(rate / 10), TimeSpan.FromMilliseconds(100)) : (1, TimeSpan.FromSeconds(1 / rate));
                RefillPeriod = period;
                Limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.RateBurst ?? Math.Max(1, (int)Math.Ceiling(rate)),
                    TokensPerPeriod = tokens,
                    ReplenishmentPeriod = period,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            }
        }

        public JobHandlerRegistration Handler { get; }

        public JobTypeOptions Options { get; }

        public TokenBucketRateLimiter? Limiter { get; }

        public TimeSpan RefillPeriod { get; } = TimeSpan.FromSeconds(1);

        public int Active;
    }

    private sealed class RunningUnit(JobHandlerRegistration handler, TypeGate? gate, IReadOnlyList<LeasedJob> jobs, CancellationTokenSource cancellation)
    {
        public JobHandlerRegistration Handler { get; } = handler;

        public TypeGate? Gate { get; } = gate;

        public IReadOnlyList<LeasedJob> Jobs { get; } = jobs;

        public CancellationTokenSource Cancellation { get; } = cancellation;
    }

    private sealed class RunningJob(LeasedJob job, RunningUnit unit)
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly Lock _gate = new();
        private long _lastProgressWrite;
        private (int Percent, string? Message)? _pending;
        private string? _lastMessage;

        public LeasedJob Job { get; } = job;

        public volatile bool CancelRequested;

        public volatile bool LeaseLost;

        public bool Completing { get; set; }

        public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

        public void RequestCancel()
        {
            CancelRequested = true;
            TryCancel();
        }

        public void LoseLease()
        {
            LeaseLost = true;
            TryCancel();
        }

        public bool ShouldWriteNow(int percent, string? message, TimeProvider time, TimeSpan interval)
        {
            lock (_gate)
            {
                _lastMessage = message ?? _lastMessage;
                if (_lastProgressWrite == 0 || time.GetElapsedTime(_lastProgressWrite) >= interval)
                {
                    _lastProgressWrite = time.GetTimestamp();
                    _pending = null;
                    return true;
                }
                _pending = (percent, message);
                return false;
            }
        }

        /// <summary>
        /// The latest message the handler reported, written or still pending. The completion carries it: the housekeeping
        /// loop may have taken the pending one and lost the race to the completion (its save then matches no running row).
        /// </summary>
        public string? LastProgressMessage
        {
            get
            {
                lock (_gate)
                {
                    return _lastMessage;
                }
            }
        }

        public (int Percent, string? Message)? TakePendingProgress()
        {
            lock (_gate)
            {
                var pending = _pending;
                _pending = null;
                return pending;
            }
        }

        private void TryCancel()
        {
            try
            {
                unit.Cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The attempt already ended.
            }
        }
    }
}
