using System.Collections.Concurrent;
using System.Globalization;
using AspirePerf.Performance.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspirePerf.Worker.Tests;

/// <summary>
/// One job processor in a host of its own, as a Worker runs it: its own data source (connections), notification
/// listener and processor. Several of these on one database are several workers.
/// </summary>
public sealed class JobHost : IAsyncDisposable
{
    private readonly IHost _host;

    private JobHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    public PostgresJobQueue Queue => Services.GetRequiredService<PostgresJobQueue>();

    public JobProcessor Processor => Services.GetRequiredService<JobProcessor>();

    /// <param name="configure">Services the handlers need beyond the queue (caches, registries), added before the handlers.</param>
    public static async Task<JobHost> StartAsync(string connectionString, Action<IServiceCollection> handlers,
        Dictionary<string, string?>? settings = null, bool process = true, Action<HostApplicationBuilder>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var configuration = new Dictionary<string, string?>
        {
            ["Jobs:PollInterval"] = "00:00:00.500",
            ["Jobs:RescueInterval"] = "00:00:00.500",
            ["Jobs:ProgressInterval"] = "00:00:00.100",
            ["Jobs:ShutdownTimeout"] = "00:00:02",
            ["Jobs:ProcessorEnabled"] = process.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings ?? [])
        {
            configuration[key] = value;
        }
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddNpgsqlDataSource(connectionString);
        builder.Services.AddJobQueue(builder.Configuration);
        configure?.Invoke(builder);
        handlers(builder.Services);
        builder.Services.AddJobProcessor(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        if (process)
        {
            await host.Services.GetRequiredService<JobProcessor>().Ready.WaitAsync(TimeSpan.FromSeconds(30));
        }
        else
        {
            await JobSchema.MigrateAsync(host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>(), CancellationToken.None);
        }
        return new JobHost(host);
    }

    /// <summary>Stops the host the normal way (running jobs get the shutdown grace, then their leases back).</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>What test handlers saw: executions per job, overlaps, order, timings. Shared by every host in a test.</summary>
public sealed class ExecutionLog
{
    private readonly ConcurrentDictionary<long, int> _active = new();
    private int _concurrent;

    public ConcurrentDictionary<long, int> Executions { get; } = new();

    public ConcurrentQueue<long> Order { get; } = new();

    public ConcurrentQueue<(long Id, DateTimeOffset At)> Starts { get; } = new();

    public ConcurrentQueue<int> BatchSizes { get; } = new();

    public int Overlaps;

    public int MaxConcurrent;

    public int Cancellations;

    /// <summary>Every WorkHandler execution fails while set.</summary>
    public volatile bool FailAll;

    public IDisposable Enter(long id)
    {
        Executions.AddOrUpdate(id, 1, (_, n) => n + 1);
        Order.Enqueue(id);
        Starts.Enqueue((id, DateTimeOffset.UtcNow));
        if (_active.AddOrUpdate(id, 1, (_, n) => n + 1) > 1)
        {
            Interlocked.Increment(ref Overlaps);
        }
        var now = Interlocked.Increment(ref _concurrent);
        int seen;
        while (now > (seen = Volatile.Read(ref MaxConcurrent)) && Interlocked.CompareExchange(ref MaxConcurrent, now, seen) != seen) { }
        return new Exit(this, id);
    }

    private sealed class Exit(ExecutionLog log, long id) : IDisposable
    {
        public void Dispose()
        {
            log._active.AddOrUpdate(id, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref log._concurrent);
        }
    }
}

public sealed record WorkPayload(int DelayMs = 0, bool Fail = false);

/// <summary>Logs the execution, waits DelayMs (honouring cancellation), optionally fails; reports progress halfway.</summary>
public sealed class WorkHandler(ExecutionLog log) : IJobHandler<WorkPayload>
{
    public async Task HandleAsync(JobContext<WorkPayload> job, CancellationToken cancellationToken)
    {
        using var _ = log.Enter(job.Id);
        if (job.Payload.DelayMs > 0)
        {
            await job.ReportProgressAsync(50, "halfway", cancellationToken);
            try
            {
                await Task.Delay(job.Payload.DelayMs, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref log.Cancellations);
                throw;
            }
        }
        if (job.Payload.Fail || log.FailAll)
        {
            throw new InvalidOperationException($"failing on purpose (attempt {job.Attempt})");
        }
        job.Result = new { job.Attempt };
    }
}

public sealed class WorkBatchHandler(ExecutionLog log) : IJobBatchHandler<WorkPayload>
{
    public async Task HandleAsync(IReadOnlyList<JobContext<WorkPayload>> jobs, CancellationToken cancellationToken)
    {
        log.BatchSizes.Enqueue(jobs.Count);
        var entered = jobs.Select(j => log.Enter(j.Id)).ToList();
        await Task.Delay(20, cancellationToken);
        entered.ForEach(e => e.Dispose());
    }
}

/// <summary>Registers handlers for one test's own job types (tests share a database; their types never collide).</summary>
public static class TestJobTypes
{
    private static int _counter;

    public static string Unique(string prefix) => $"{prefix}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid().ToString("N")[..6]}";

    public static Action<IServiceCollection> Work(ExecutionLog log, params string[] types) => services =>
    {
        services.AddSingleton(log);
        foreach (var type in types)
        {
            services.AddJobHandler<WorkPayload, WorkHandler>(type);
        }
    };
}
