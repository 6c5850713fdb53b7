using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using AspirePerf.Performance.Jobs;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using HdrHistogram;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspirePerf.Bench;

/// <summary>
/// The job queue against Hangfire on PostgreSQL, same server, same workload, side by side: throughput of N no-op jobs
/// drained by one and by two worker processes (ours: real child processes of this CLI; Hangfire: one and two
/// BackgroundJobServer instances in this process), then enqueue-to-start latency idle and under load.
/// Both run in a database of their own (<c>jobs_bench</c>) on the server the connection string names.
/// </summary>
public static class JobsBenchmark
{
    private const string NoopType = "noop";
    private const string ProbeType = "probe";
    private const string BenchDatabase = "jobs_bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var server = Options.Required(args, "--workforce", "ConnectionStrings__workforce", "\"<npgsql connection string>\" (its server is used; the database jobs_bench is created)");
        var jobs = Options.Int(args, "--jobs", 50_000);
        var hangfireJobs = Options.Int(args, "--hangfire-jobs", jobs);
        var concurrency = Options.Int(args, "--concurrency", 64);
        var hangfireWorkers = Options.Int(args, "--hangfire-workers", 20);
        var samples = Options.Int(args, "--latency-samples", 300);
        // Under load = each system at half the rate it drained with one worker, unless a rate is given for both.
        var fixedLoadRate = Options.Int(args, "--load-rate", 0);
        var skipHangfire = args.Contains("--no-hangfire");
        var connectionString = await EnsureDatabaseAsync(server);

        Console.WriteLine($"jobs benchmark: {jobs:N0} no-op jobs (Hangfire {hangfireJobs:N0}), concurrency {concurrency} per worker (Hangfire {hangfireWorkers} workers per server), " +
            $"{samples} latency samples; {Environment.ProcessorCount} cores");
        var rows = new List<string>();
        var rates = new List<double>();

        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            await JobSchema.MigrateAsync(dataSource, CancellationToken.None);
            foreach (var workers in new[] { 1, 2 })
            {
                var (count, seconds) = await OursThroughputAsync(dataSource, connectionString, jobs, workers, concurrency);
                rows.Add(Row($"AspirePerf jobs, {workers} worker process{(workers > 1 ? "es" : "")}", count, seconds));
                rates.Add(count / seconds);
                Console.WriteLine(rows[^1]);
            }
        }
        var oursLoad = fixedLoadRate > 0 ? fixedLoadRate : (int)(rates[0] / 2);
        var (oursIdle, oursLoaded) = await OursLatencyAsync(connectionString, concurrency, samples, oursLoad);
        var hangfireLoad = fixedLoadRate;

        (LongHistogram Idle, LongHistogram Loaded)? hangfireLatency = null;
        if (!skipHangfire)
        {
            foreach (var servers in new[] { 1, 2 })
            {
                var (count, seconds) = await HangfireThroughputAsync(connectionString, hangfireJobs, servers, hangfireWorkers);
                rows.Add(Row($"Hangfire.PostgreSql, {servers} server{(servers > 1 ? "s" : "")} (in-process)", count, seconds));
                if (servers == 1 && hangfireLoad == 0)
                {
                    hangfireLoad = (int)(count / seconds / 2);
                }
                Console.WriteLine(rows[^1]);
            }
            hangfireLatency = await HangfireLatencyAsync(connectionString, hangfireWorkers, samples, hangfireLoad);
        }

        Console.WriteLine();
        Console.WriteLine("| system | jobs | seconds | jobs/s |");
        Console.WriteLine("|---|---:|---:|---:|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine("| enqueue-to-start latency | samples | p50 ms | p90 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        Console.WriteLine(LatencyRow("AspirePerf jobs, idle", oursIdle));
        Console.WriteLine(LatencyRow($"AspirePerf jobs, under {oursLoad:N0} jobs/s", oursLoaded));
        if (hangfireLatency is { } h)
        {
            Console.WriteLine(LatencyRow("Hangfire.PostgreSql, idle", h.Idle));
            Console.WriteLine(LatencyRow($"Hangfire.PostgreSql, under {hangfireLoad:N0} jobs/s", h.Loaded));
        }
        return 0;
    }

    /// <summary>The child process: one processor with the no-op handler, until killed or its stdin closes.</summary>
    public static async Task<int> RunWorkerAsync(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__workforce")
            ?? throw new InvalidOperationException("ConnectionStrings__workforce is not set.");
        using var host = BuildHost(connectionString, Options.Int(args, "--concurrency", 64), services =>
            services.AddJobHandler<NoopPayload, NoopHandler>(NoopType));
        await host.StartAsync();
        await host.Services.GetRequiredService<JobProcessor>().Ready;
        Console.WriteLine("ready");
        await Console.In.ReadToEndAsync();
        await host.StopAsync();
        return 0;
    }

    private static async Task<(long Count, double Seconds)> OursThroughputAsync(NpgsqlDataSource dataSource, string connectionString, int jobs, int workers, int concurrency)
    {
        await ExecuteAsync(dataSource, "TRUNCATE jobs.jobs CASCADE");
        var queue = new PostgresJobQueue(dataSource, new StaticOptions(new JobsOptions()), TimeProvider.System);
        var payloads = Enumerable.Repeat("{}", 10_000).ToArray();
        for (var enqueued = 0; enqueued < jobs; enqueued += payloads.Length)
        {
            await queue.EnqueueManyJsonAsync(NoopType, payloads[..Math.Min(payloads.Length, jobs - enqueued)]);
        }
        await ExecuteAsync(dataSource, "VACUUM ANALYZE jobs.jobs");

        var children = new List<Process>();
        try
        {
            for (var i = 0; i < workers; i++)
            {
                children.Add(await StartWorkerProcessAsync(connectionString, concurrency));
            }
            var deadline = Stopwatch.StartNew();
            while (await ScalarAsync(dataSource, "SELECT count(*) FROM jobs.jobs WHERE state = 4") < jobs)
            {
                if (deadline.Elapsed > TimeSpan.FromMinutes(10))
                {
                    throw new TimeoutException("the workers did not drain the queue within 10 minutes");
                }
                await Task.Delay(100);
            }
        }
        finally
        {
            foreach (var child in children)
            {
                child.StandardInput.Close();
                if (!child.WaitForExit(15_000))
                {
                    child.Kill(entireProcessTree: true);
                }
                child.Dispose();
            }
        }
        // From the first lease to the last completion written, as the database recorded them.
        await using var command = dataSource.CreateCommand(
            "SELECT count(*), extract(epoch FROM max(finalized_at) - min(attempted_at))::float8, count(DISTINCT lease_owner) FROM jobs.jobs WHERE state = 4");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Console.WriteLine($"  ({reader.GetInt64(2)} distinct worker(s) completed jobs)");
        return (reader.GetInt64(0), reader.GetDouble(1));
    }

    private static async Task<Process> StartWorkerProcessAsync(string connectionString, int concurrency)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(JobsBenchmark).Assembly.Location);
        start.ArgumentList.Add("jobs-worker");
        start.ArgumentList.Add("--concurrency");
        start.ArgumentList.Add(concurrency.ToString(CultureInfo.InvariantCulture));
        // The password travels in the environment, not on a command line other users can read.
        start.Environment["ConnectionStrings__workforce"] = connectionString;
        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (line != "ready")
        {
            throw new InvalidOperationException($"worker process said '{line}' instead of ready");
        }
        return process;
    }

    private static async Task<(LongHistogram Idle, LongHistogram Loaded)> OursLatencyAsync(string connectionString, int concurrency, int samples, int loadRate)
    {
        var probes = new ProbeRecorder();
        using var host = BuildHost(connectionString, concurrency, services =>
        {
            services.AddSingleton(probes);
            services.AddJobHandler<NoopPayload, NoopHandler>(NoopType);
            services.AddJobHandler<ProbePayload, ProbeHandler>(ProbeType);
        });
        await host.StartAsync();
        await host.Services.GetRequiredService<JobProcessor>().Ready;
        var queue = host.Services.GetRequiredService<PostgresJobQueue>();
        await ExecuteAsync(host.Services.GetRequiredService<NpgsqlDataSource>(), "TRUNCATE jobs.jobs CASCADE");

        var idle = await MeasureAsync(probes, samples, loaded: false, ts => queue.EnqueueAsync(ProbeType, new ProbePayload(ts)),
            count => queue.EnqueueManyJsonAsync(NoopType, Enumerable.Repeat("{}", count).ToArray()), loadRate);
        var loaded = await MeasureAsync(probes, samples, loaded: true, ts => queue.EnqueueAsync(ProbeType, new ProbePayload(ts)),
            count => queue.EnqueueManyJsonAsync(NoopType, Enumerable.Repeat("{}", count).ToArray()), loadRate);
        await host.StopAsync();
        return (idle, loaded);
    }

    /// <summary>
    /// Idle: one probe at a time, the next after the previous started (plus 10 ms). Loaded: a probe every 20 ms while
    /// a generator enqueues no-op jobs at <paramref name="loadRate"/> in batches every 50 ms.
    /// </summary>
    private static async Task<LongHistogram> MeasureAsync(ProbeRecorder probes, int samples, bool loaded, Func<long, Task> enqueueProbe,
        Func<int, Task> enqueueLoad, int loadRate)
    {
        probes.Reset(samples);
        using var stop = new CancellationTokenSource();
        var load = loaded ? Task.Run(async () =>
        {
            var batch = Math.Max(1, loadRate / 20);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    await enqueueLoad(batch);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }) : Task.CompletedTask;
        if (loaded)
        {
            await Task.Delay(1000); // the load reaches its steady state first
        }
        var lost = 0;
        for (var i = 0; i < samples; i++)
        {
            await enqueueProbe(Stopwatch.GetTimestamp());
            if (loaded)
            {
                await Task.Delay(20);
            }
            else
            {
                if (!await probes.WaitForAsync(i + 1 - lost, TimeSpan.FromSeconds(10)))
                {
                    lost++;
                }
                await Task.Delay(10);
            }
        }
        if (!await probes.WaitForAsync(samples - lost, TimeSpan.FromSeconds(60)) || lost > 0)
        {
            Console.WriteLine($"  {samples - probes.Count} of {samples} probes had not started when measuring stopped");
        }
        await stop.CancelAsync();
        await load;
        return probes.Histogram;
    }

    private static async Task<(long Count, double Seconds)> HangfireThroughputAsync(string connectionString, int jobs, int servers, int workers)
    {
        var storage = await FreshHangfireStorageAsync(connectionString);
        var client = new BackgroundJobClient(storage);
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            while (Interlocked.Increment(ref next) <= jobs)
            {
                client.Enqueue(() => HangfireJobs.Noop());
            }
        })));
        HangfireJobs.Reset(jobs);
        var running = Enumerable.Range(0, servers).Select(_ => new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = workers }, storage)).ToList();
        try
        {
            // A job Hangfire fetched but never finished only reappears after its invisibility timeout (30 min): stop
            // when nothing completed for 10 s, and report what did complete, and how many were left.
            var last = -1;
            var stalled = Stopwatch.StartNew();
            while (!HangfireJobs.AllDone.Task.IsCompleted)
            {
                await Task.Delay(100);
                var done = HangfireJobs.Done;
                if (done != last)
                {
                    last = done;
                    stalled.Restart();
                }
                else if (stalled.Elapsed > TimeSpan.FromSeconds(10) && done > 0)
                {
                    Console.WriteLine($"  Hangfire: {jobs - done} of {jobs:N0} jobs not finished after 10 s without progress (fetched and stuck until Hangfire's invisibility timeout); counting the {done:N0} that finished");
                    break;
                }
            }
        }
        finally
        {
            running.ForEach(s => s.Dispose());
        }
        return (HangfireJobs.Done, HangfireJobs.Span.TotalSeconds);
    }

    private static async Task<(LongHistogram Idle, LongHistogram Loaded)> HangfireLatencyAsync(string connectionString, int workers, int samples, int loadRate)
    {
        var storage = await FreshHangfireStorageAsync(connectionString);
        var client = new BackgroundJobClient(storage);
        HangfireJobs.Reset(int.MaxValue);
        using var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = workers }, storage);
        await Task.Delay(1000);
        HangfireJobs.Probes = new ProbeRecorder();
        var idle = await MeasureAsync(HangfireJobs.Probes, samples, loaded: false, ts => Task.FromResult(client.Enqueue(() => HangfireJobs.Probe(ts))),
            count => Task.Run(() => { for (var i = 0; i < count; i++) { client.Enqueue(() => HangfireJobs.Noop()); } }), loadRate);
        var loaded = await MeasureAsync(HangfireJobs.Probes, samples, loaded: true, ts => Task.FromResult(client.Enqueue(() => HangfireJobs.Probe(ts))),
            count => Task.Run(() => { for (var i = 0; i < count; i++) { client.Enqueue(() => HangfireJobs.Noop()); } }), loadRate);
        return (idle, loaded);
    }

    private static async Task<PostgreSqlStorage> FreshHangfireStorageAsync(string connectionString)
    {
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            await ExecuteAsync(dataSource, "DROP SCHEMA IF EXISTS hangfire CASCADE");
        }
        // Hangfire's best settings for this: LISTEN/NOTIFY long polling, a short poll interval as fallback.
        var options = new PostgreSqlStorageOptions
        {
            SchemaName = "hangfire",
            PrepareSchemaIfNecessary = true,
            EnableLongPolling = true,
            QueuePollInterval = TimeSpan.FromMilliseconds(200),
        };
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
    }

    private static IHost BuildHost(string connectionString, int concurrency, Action<IServiceCollection> handlers)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jobs:Concurrency"] = concurrency.ToString(CultureInfo.InvariantCulture),
            ["Jobs:FetchBatchSize"] = concurrency.ToString(CultureInfo.InvariantCulture),
            // Depth counts scan the table; the benchmark does not export metrics.
            ["Jobs:StatisticsInterval"] = "01:00:00",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddNpgsqlDataSource(connectionString);
        builder.Services.AddJobQueue(builder.Configuration);
        handlers(builder.Services);
        builder.Services.AddJobProcessor(builder.Configuration);
        return builder.Build();
    }

    /// <summary>Creates <paramref name="database"/> (a constant name) on the server if missing; returns its connection string.</summary>
    internal static async Task<string> EnsureDatabaseAsync(string server, string database = BenchDatabase)
    {
        await using (var dataSource = NpgsqlDataSource.Create(server))
        {
            if (await ScalarAsync(dataSource, $"SELECT count(*) FROM pg_database WHERE datname = '{database}'") == 0)
            {
                await ExecuteAsync(dataSource, $"CREATE DATABASE {database}");
            }
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = 200 }.ConnectionString;
    }

    internal static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    internal static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Row(string system, long jobs, double seconds) =>
        string.Create(CultureInfo.InvariantCulture, $"| {system} | {jobs:N0} | {seconds:0.00} | {jobs / seconds:N0} |");

    private static string LatencyRow(string what, LongHistogram h) => string.Create(CultureInfo.InvariantCulture,
        $"| {what} | {h.TotalCount} | {h.GetValueAtPercentile(50) / 1000.0:0.00} | {h.GetValueAtPercentile(90) / 1000.0:0.00} | {h.GetValueAtPercentile(99) / 1000.0:0.00} | {h.GetMaxValue() / 1000.0:0.00} |");

    private sealed class StaticOptions(JobsOptions value) : Microsoft.Extensions.Options.IOptionsMonitor<JobsOptions>
    {
        public JobsOptions CurrentValue => value;

        public JobsOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<JobsOptions, string?> listener) => null;
    }
}

public sealed record NoopPayload;

public sealed record ProbePayload(long EnqueuedTimestamp);

public sealed class NoopHandler : IJobHandler<NoopPayload>
{
    public Task HandleAsync(JobContext<NoopPayload> job, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class ProbeHandler(ProbeRecorder probes) : IJobHandler<ProbePayload>
{
    public Task HandleAsync(JobContext<ProbePayload> job, CancellationToken cancellationToken)
    {
        probes.Record(job.Payload.EnqueuedTimestamp);
        return Task.CompletedTask;
    }
}

/// <summary>Enqueue-to-start latencies (µs) of probe jobs, timed with this process's monotonic clock.</summary>
public sealed class ProbeRecorder
{
    private readonly Lock _gate = new();
    private int _count;

    public LongHistogram Histogram { get; private set; } = new(TimeStamp.Seconds(120), 3);

    public void Reset(int samples)
    {
        lock (_gate)
        {
            Histogram = new LongHistogram(TimeStamp.Seconds(120), 3);
            _count = 0;
        }
        _ = samples;
    }

    public void Record(long enqueuedTimestamp)
    {
        var micros = (long)Stopwatch.GetElapsedTime(enqueuedTimestamp).TotalMicroseconds;
        lock (_gate)
        {
            Histogram.RecordValue(Math.Max(1, micros));
            _count++;
        }
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>False if fewer than <paramref name="count"/> probes started within the timeout (a stuck job).</summary>
    public async Task<bool> WaitForAsync(int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref _count) < count)
        {
            if (deadline.Elapsed > timeout)
            {
                return false;
            }
            await Task.Delay(1);
        }
        return true;
    }
}

/// <summary>Hangfire's job methods (static: Hangfire serializes the call expression).</summary>
public static class HangfireJobs
{
    private static int _target;
    private static int _done;
    private static long _first;
    private static long _last;

    public static TaskCompletionSource AllDone { get; private set; } = new();

    public static ProbeRecorder Probes { get; set; } = new();

    /// <summary>From the first no-op's start to the last one's end, as the handlers saw it (Hangfire's state writes after that are not counted).</summary>
    public static TimeSpan Span => Stopwatch.GetElapsedTime(_first, _last);

    public static void Reset(int target)
    {
        _target = target;
        _done = 0;
        _first = 0;
        AllDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public static int Done => Volatile.Read(ref _done);

    public static void Noop()
    {
        Interlocked.CompareExchange(ref _first, Stopwatch.GetTimestamp(), 0);
        var done = Interlocked.Increment(ref _done);
        Volatile.Write(ref _last, Stopwatch.GetTimestamp());
        if (done == _target)
        {
            AllDone.TrySetResult();
        }
    }

    public static void Probe(long enqueuedTimestamp) => Probes.Record(enqueuedTimestamp);
}
