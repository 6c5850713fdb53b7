using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace AspirePerf.Bench.Sla;

/// <summary>One endpoint's recordings: latency from the intended start (coordinated omission corrected), service time from the actual send, outcomes by status.</summary>
public sealed class EndpointRecording
{
    /// <summary>Microseconds, 1 µs to 1 h at 3 significant digits (≤ 0.1 % quantization), constant memory.</summary>
    public static LongConcurrentHistogram NewHistogram() => new(1, 3_600_000_000, 3);

    public LongConcurrentHistogram Latency { get; } = NewHistogram();

    public LongConcurrentHistogram ServiceTime { get; } = NewHistogram();

    /// <summary>HTTP status code, or <c>transport</c> (no response) / <c>timeout</c>.</summary>
    public ConcurrentDictionary<string, long> Outcomes { get; } = new(StringComparer.Ordinal);

    public long Errors => Outcomes.Where(o => !int.TryParse(o.Key, CultureInfo.InvariantCulture, out var status) || status >= 400).Sum(o => o.Value);
}

/// <summary>What one scenario's measured phase recorded (warm-up is not in it).</summary>
public sealed class ScenarioRecording(SlaScenario scenario)
{
    private long _scheduled;
    private long _sent;
    private long _dropped;
    private long _late;
    private long _completed;

    public SlaScenario Scenario { get; } = scenario;

    public ConcurrentDictionary<string, EndpointRecording> Endpoints { get; } = new(StringComparer.Ordinal);

    public TimeSpan Duration { get; set; }

    /// <summary>Requests due in the measured phase (open model), or sent (closed model).</summary>
    public long Scheduled => Interlocked.Read(ref _scheduled);

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Open model: due while <see cref="SlaScenario.MaxInFlight"/> were in flight, so never sent.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Open model: sent later than <see cref="LoadRunner.LateThreshold"/> after their intended start (the generator fell behind).</summary>
    public long Late => Interlocked.Read(ref _late);

    public long Completed => Interlocked.Read(ref _completed);

    internal void CountScheduled() => Interlocked.Increment(ref _scheduled);

    internal void CountSent() => Interlocked.Increment(ref _sent);

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void CountLate() => Interlocked.Increment(ref _late);

    internal void CountCompleted() => Interlocked.Increment(ref _completed);

    public EndpointRecording Endpoint(string name) => Endpoints.GetOrAdd(name, _ => new EndpointRecording());

    /// <summary>Every endpoint's latency histogram added up.</summary>
    public HistogramBase Total(Func<EndpointRecording, HistogramBase> which)
    {
        var total = EndpointRecording.NewHistogram();
        foreach (var endpoint in Endpoints.Values)
        {
            total.Add(which(endpoint));
        }
        return total;
    }
}

/// <summary>A progress snapshot for the live line.</summary>
public sealed record LiveStatus(string Scenario, bool WarmingUp, TimeSpan Elapsed, TimeSpan Duration, long Sent, long Completed, int InFlight,
    long Errors, long Dropped, double? P95Ms);

/// <summary>
/// Sends a scenario's requests under the open or the closed model. Open: request i is due at start + i / rate whatever
/// the server does; its latency runs from that intended start (wrk2's correction of coordinated omission), so a
/// stalled server shows in every request that should have been sent meanwhile. Hand-written: no served .NET load
/// generator does open-model arrival with intended-time latency into HdrHistogram (NBomber is commercial for companies).
/// </summary>
public sealed class LoadRunner(HttpClient http)
{
    /// <summary>An open-model request sent later than this after its intended start counts as late.</summary>
    public static readonly TimeSpan LateThreshold = TimeSpan.FromMilliseconds(5);

    private int _inFlight;

    public int InFlight => Volatile.Read(ref _inFlight);

    public async Task<ScenarioRecording> RunAsync(SlaScenario scenario, RequestPlan plan, int seed, TimeSpan warmup, TimeSpan duration,
        Action<LiveStatus>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(plan);
        var recording = new ScenarioRecording(scenario);
        var warming = new ScenarioRecording(scenario); // warm-up requests are recorded here and thrown away
        var clock = Stopwatch.StartNew();
        var measuredFrom = warmup;
        using var live = progress is null ? null : new Timer(_ =>
        {
            var now = clock.Elapsed;
            var current = now < measuredFrom ? warming : recording;
            var p95 = current.Endpoints.IsEmpty ? (double?)null : current.Total(e => e.Latency).GetValueAtPercentile(95) / 1000.0;
            progress(new LiveStatus(scenario.Name, now < measuredFrom, now < measuredFrom ? now : now - measuredFrom, now < measuredFrom ? warmup : duration,
                current.Sent, current.Completed, InFlight, current.Endpoints.Values.Sum(e => e.Errors), current.Dropped, p95));
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        if (scenario.Model == LoadModel.Open)
        {
            await RunOpenAsync(scenario, plan, new Random(seed), clock, warmup, duration, warming, recording, cancellationToken);
        }
        else
        {
            await RunClosedAsync(scenario, plan, seed, clock, warmup, duration, warming, recording, cancellationToken);
        }
        recording.Duration = duration;
        return recording;
    }

    /// <summary>The intended start of request <paramref name="index"/> at <paramref name="rate"/> per second, from the schedule's start.</summary>
    public static TimeSpan IntendedStart(long index, double rate) => TimeSpan.FromSeconds(index / rate);

    private async Task RunOpenAsync(SlaScenario scenario, RequestPlan plan, Random random, Stopwatch clock, TimeSpan warmup, TimeSpan duration,
        ScenarioRecording warming, ScenarioRecording recording, CancellationToken cancellationToken)
    {
        var pending = new ConcurrentDictionary<Task, byte>();
        var end = warmup + duration;
        // The schedule runs on a thread of its own: a thread-pool loop would fall behind whenever the pool is busy
        // completing responses, which is the moment the schedule matters most.
        var dispatcher = new Thread(() =>
        {
            for (long i = 0; ; i++)
            {
                var intended = IntendedStart(i, scenario.Rate);
                if (intended >= end || cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                WaitUntil(clock, intended);
                var target = intended < warmup ? warming : recording;
                target.CountScheduled();
                if (Volatile.Read(ref _inFlight) >= scenario.MaxInFlight)
                {
                    target.CountDropped();
                    continue;
                }
                if (clock.Elapsed - intended > LateThreshold)
                {
                    target.CountLate();
                }
                var (name, url) = plan.Next(random);
                var task = SendAsync(name, url, clock, intended, target, cancellationToken);
                pending[task] = 0;
                _ = task.ContinueWith(t => pending.TryRemove(t, out _), TaskScheduler.Default);
            }
        })
        { IsBackground = true, Name = "sla-dispatcher", Priority = ThreadPriority.AboveNormal };
        dispatcher.Start();
        await Task.Run(dispatcher.Join, cancellationToken);
        await Task.WhenAll(pending.Keys);
    }

    private static void WaitUntil(Stopwatch clock, TimeSpan due)
    {
        while (true)
        {
            var remaining = due - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }
            // Sleep while far off (≈1 ms granularity on Linux), then spin briefly: ±1 ms like wrk2's own schedule.
            if (remaining > TimeSpan.FromMilliseconds(1.5))
            {
                Thread.Sleep(remaining - TimeSpan.FromMilliseconds(1));
            }
            else
            {
                Thread.SpinWait(200);
            }
        }
    }

    private async Task RunClosedAsync(SlaScenario scenario, RequestPlan plan, int seed, Stopwatch clock, TimeSpan warmup, TimeSpan duration,
        ScenarioRecording warming, ScenarioRecording recording, CancellationToken cancellationToken)
    {
        var end = warmup + duration;
        await Task.WhenAll(Enumerable.Range(0, scenario.Users).Select(async user =>
        {
            var random = new Random(HashCode.Combine(seed, user));
            while (clock.Elapsed < end && !cancellationToken.IsCancellationRequested)
            {
                var sentAt = clock.Elapsed;
                var target = sentAt < warmup ? warming : recording;
                target.CountScheduled();
                var (name, url) = plan.Next(random);
                await SendAsync(name, url, clock, sentAt, target, cancellationToken);
                if (scenario.ThinkMs > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(scenario.ThinkMs), cancellationToken);
                }
            }
        }));
    }

    private async Task SendAsync(string name, string url, Stopwatch clock, TimeSpan intended, ScenarioRecording recording, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        recording.CountSent();
        var sentAt = clock.Elapsed;
        string outcome;
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            await response.Content.CopyToAsync(Stream.Null, cancellationToken);
            outcome = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            outcome = "timeout";
        }
        catch (HttpRequestException)
        {
            outcome = "transport";
        }
        catch (IOException)
        {
            outcome = "transport";
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
        var done = clock.Elapsed;
        var endpoint = recording.Endpoint(name);
        endpoint.Latency.RecordValue(Math.Max(1, (long)(done - intended).TotalMicroseconds));
        endpoint.ServiceTime.RecordValue(Math.Max(1, (long)(done - sentAt).TotalMicroseconds));
        endpoint.Outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
        recording.CountCompleted();
    }
}
