using System.Collections.Concurrent;
using System.Diagnostics;
using AspirePerf.ServiceDefaults;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace AspirePerf.ServiceDefaults.Clients;

/// <summary>
/// Redis client spans, as Aspire's integration emits them (source <c>OpenTelemetry.Instrumentation.StackExchangeRedis</c>,
/// one client span per command, child of the span that issued it). That instrumentation package is not on this feed,
/// so this is written by hand on StackExchange.Redis's profiling API: commands issued while an Activity is current
/// are recorded into a session per Activity, and drained every second (and at shutdown) into spans with the
/// commands' own start times and durations.
/// </summary>
public sealed class RedisTracing(IConnectionMultiplexer multiplexer) : BackgroundService
{
    private static readonly ActivitySource Source = new(TelemetryNames.Redis);
    private readonly ConcurrentDictionary<Activity, ProfilingSession> _sessions = new();

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        multiplexer.RegisterProfiler(CurrentSession);
        return base.StartAsync(cancellationToken);
    }

    private ProfilingSession? CurrentSession()
    {
        // Only when someone listens to our source: otherwise profiling would cost every command for nothing.
        if (!Source.HasListeners() || Activity.Current is not { } activity)
        {
            return null;
        }
        return _sessions.GetOrAdd(activity, static a => new ProfilingSession(a));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Drain(final: false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        Drain(final: true);
    }

    /// <summary>Turns recorded commands into spans; sessions of finished activities are dropped afterwards.</summary>
    public void Drain(bool final)
    {
        foreach (var (activity, session) in _sessions)
        {
            var finished = final || activity.IsStopped;
            foreach (var command in session.FinishProfiling())
            {
                Emit(activity, command);
            }
            if (finished)
            {
                _sessions.TryRemove(activity, out _);
            }
        }
    }

    private static void Emit(Activity parent, IProfiledCommand command)
    {
        var started = new DateTimeOffset(command.CommandCreated.ToUniversalTime(), TimeSpan.Zero);
        using var span = Source.StartActivity(command.Command, ActivityKind.Client, parent.Context, startTime: started);
        if (span is null)
        {
            return;
        }
        span.SetTag("db.system", "redis");
        span.SetTag("db.statement", command.Command);
        span.SetTag("db.redis.database_index", command.Db);
        span.SetTag("db.redis.flags", command.Flags.ToString());
        if (command.EndPoint is System.Net.DnsEndPoint dns)
        {
            span.SetTag("server.address", dns.Host);
            span.SetTag("server.port", dns.Port);
        }
        else if (command.EndPoint is System.Net.IPEndPoint ip)
        {
            span.SetTag("server.address", ip.Address.ToString());
            span.SetTag("server.port", ip.Port);
        }
        span.SetEndTime(started.UtcDateTime + command.ElapsedTime);
    }
}
