using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Data;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Seeding;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StackExchange.Redis;

namespace AspirePerf.Bench;

/// <summary>
/// Analyses, caches bypassed, side by side in one run: each registered analysis run by the same engine serially
/// (MaxParallelStepsPerAnalysis = 1), in parallel (the default limit) with the database-parallelism cap on and with it
/// off, with the cap on but without critical-path scheduling (declaration order, no step spared the cap), and distributed (an <c>analysis</c> job whose query steps are jobs run by real Worker processes this command
/// starts; <c>--workers 0</c> leaves that mode out), interleaved round by round, medians after warm-up. Reports wall times against the critical-path bound (the longest dependency chain of the run's own step
/// times), the saving over serial, the achieved parallelism (sum of step times ÷ wall) and the distributed overhead per
/// step. Seeds its own database (<c>analyses_bench</c>) on the server <c>--workforce</c> names with the product's seeder.
/// </summary>
public static class AnalysesBenchmark
{
    private const string BenchDatabase = "analyses_bench";

    /// <summary>The analyses with the parameters the tests use (tests/ApiService.Tests/AnalysesApiTests.cs).</summary>
    private static readonly (string Id, Dictionary<string, string> Parameters)[] Cases =
    [
        ("sector-briefing", new() { ["sector"] = "CON" }),
        ("employer-profile", new() { ["employerId"] = "100" }),
        ("wage-gap-study", []),
        ("vacancy-pressure", []),
    ];

    private enum Mode
    {
        Serial,
        Parallel,
        ParallelUncapped,
        ParallelDeclarationOrder,
        Distributed,
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var server = Options.Required(args, "--workforce", "ConnectionStrings__workforce", $"\"<npgsql connection string>\" (its server is used; the database {BenchDatabase} is created and seeded)");
        var cache = Options.Required(args, "--cache", "ConnectionStrings__cache", "\"<redis connection string>\" (the services need one; every step bypasses it)");
        var runs = Options.Int(args, "--runs", 7);
        var warmup = Options.Int(args, "--warmup", 2);
        var workers = Options.Int(args, "--workers", 2);
        var defaults = new SeedingOptions();
        var scale = Options.Int(args, "--scale", defaults.Scale);
        var seed = Options.Int(args, "--seed", defaults.Seed);
        // The server this command is pointed at usually runs on this machine: its cores are the budget. "server": the
        // product's default (the server's max_parallel_workers).
        var budgetArgument = Options.Get(args, "--database-budget") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        int? budget = budgetArgument == "server" ? null : int.Parse(budgetArgument, CultureInfo.InvariantCulture);

        var connectionString = await PrepareDatabaseAsync(server, seed, scale);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Caching:Namespace"] = "bench-analyses-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["Orchestration:DatabaseParallelBudget"] = budget?.ToString(CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning).AddConsole());
        services.AddMetrics();
        services.AddNpgsqlDataSource(connectionString);
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(cache));
        services.AddWorkforceQueries(configuration);
        services.AddAdaptiveCaching(configuration);
        services.AddJobQueue(configuration);
        services.AddWorkforceAnalyses(configuration);
        await using var provider = services.BuildServiceProvider();

        var dataSource = provider.GetRequiredService<NpgsqlDataSource>();
        await JobSchema.MigrateAsync(dataSource, CancellationToken.None);
        await JobsBenchmark.ExecuteAsync(dataSource, "TRUNCATE jobs.jobs CASCADE");
        var analyses = provider.GetRequiredService<AnalysisRegistry>();
        var parallel = provider.GetRequiredService<AnalysisRunner>();
        using var serial = new AnalysisRunner(provider.GetRequiredService<QueryRegistry>(),
            Microsoft.Extensions.Options.Options.Create(new OrchestrationOptions { MaxParallelStepsPerAnalysis = 1 }),
            provider.GetRequiredService<OrchestrationTelemetry>(), TimeProvider.System, NullLogger<AnalysisRunner>.Instance, dataSource);
        using var uncapped = new AnalysisRunner(provider.GetRequiredService<QueryRegistry>(),
            Microsoft.Extensions.Options.Options.Create(new OrchestrationOptions { CapDatabaseParallelism = false }),
            provider.GetRequiredService<OrchestrationTelemetry>(), TimeProvider.System, NullLogger<AnalysisRunner>.Instance, dataSource);
        using var declarationOrder = new AnalysisRunner(provider.GetRequiredService<QueryRegistry>(),
            Microsoft.Extensions.Options.Options.Create(new OrchestrationOptions { CriticalPathScheduling = false, DatabaseParallelBudget = budget }),
            provider.GetRequiredService<OrchestrationTelemetry>(), TimeProvider.System, NullLogger<AnalysisRunner>.Instance, dataSource);
        var local = provider.GetRequiredService<IQueryStepRunner>();
        var serverCpu = await PostgresServerCpu.FindAsync(dataSource);
        var queue = provider.GetRequiredService<PostgresJobQueue>();

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"analyses benchmark: {Cases.Length} analyses, {warmup} warm-up + {runs} measured rounds, modes interleaved (order rotated each round); " +
            $"in-process limit {parallel.GlobalLimit} steps, {new OrchestrationOptions().MaxParallelStepsPerAnalysis} per analysis; {workers} Worker processes; {Environment.ProcessorCount} cores; " +
            $"database parallel budget {(budget is { } b ? b.ToString(CultureInfo.InvariantCulture) : "the server's max_parallel_workers")} (cap on: parallel; off: parallel-uncapped)"));
        var children = new List<Process>();
        var results = Cases.ToDictionary(c => c.Id, _ => Enum.GetValues<Mode>().ToDictionary(m => m, _ => new List<Run>()));
        try
        {
            for (var i = 0; i < workers; i++)
            {
                children.Add(StartWorker(connectionString, cache));
            }
            if (workers > 0)
            {
                await WaitForWorkersAsync(queue, dataSource, children);
            }

            var modes = Enum.GetValues<Mode>().Where(m => m != Mode.Distributed || workers > 0).ToArray();
            Console.WriteLine($"load average at start: {LoadAverage()}; " +
                (serverCpu is null ? "the database server does not run on this machine: no server CPU time" : "the database server runs here: its CPU time is read from /proc"));
            var measuredFrom = DateTimeOffset.UtcNow;
            for (var round = 0; round < warmup + runs; round++)
            {
                if (round == warmup)
                {
                    measuredFrom = DateTimeOffset.UtcNow;
                }
                foreach (var (id, raw) in Cases)
                {
                    var analysis = analyses.Find(id)!;
                    var (parameters, errors) = AnalysisBinding.Bind(analysis, raw.Select(p => new KeyValuePair<string, IReadOnlyList<string?>>(p.Key, [p.Value])));
                    if (parameters is null)
                    {
                        throw new InvalidOperationException($"{id}: {string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))}");
                    }
                    for (var k = 0; k < modes.Length; k++)
                    {
                        var mode = modes[(k + round) % modes.Length];
                        var run = mode switch
                        {
                            Mode.Serial => await InProcessAsync(serial, analysis, parameters, local, serverCpu),
                            Mode.Parallel => await InProcessAsync(parallel, analysis, parameters, local, serverCpu),
                            Mode.ParallelUncapped => await InProcessAsync(uncapped, analysis, parameters, local, serverCpu),
                            Mode.ParallelDeclarationOrder => await InProcessAsync(declarationOrder, analysis, parameters, local, serverCpu),
                            _ => await DistributedAsync(queue, id, raw),
                        };
                        if (run.Report.Status != AnalysisStatus.Complete)
                        {
                            Console.WriteLine($"  round {round}: {id} {mode} ended {run.Report.Status}: " +
                                string.Join(", ", run.Report.Steps.Where(s => s.Status != StepStatus.Succeeded).Select(s => $"{s.Id} {s.Status} {s.Error}")));
                        }
                        if (round >= warmup)
                        {
                            results[id][mode].Add(run);
                        }
                    }
                }
                Console.WriteLine($"  round {round + 1} of {warmup + runs} done{(round < warmup ? " (warm-up)" : "")}");
            }
            Console.WriteLine($"load average at end: {LoadAverage()}");
            if (workers > 0)
            {
                await PrintStepSpreadAsync(dataSource, children);
                await PrintQueueTimesAsync(dataSource, measuredFrom);
            }
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }
                child.Dispose();
            }
        }

        Print(results, runs);
        return 0;
    }

    /// <param name="Queue">Distributed runs: per query step, its time in the coordinator minus its run time in a Worker (queueing,
    /// fan-out and fan-in), and its wait from enqueue to lease, both from the step job's own timestamps.</param>
    /// <param name="BusyCores">In-process runs: the machine's average busy cores over the run (<see cref="MachineCpu"/>).</param>
    /// <param name="ServerBusyCores">In-process runs against a server on this machine: its processes' average busy cores
    /// over the run (<see cref="PostgresServerCpu"/>).</param>
    private sealed record Run(AnalysisReport Report, double EndToEndMs, IReadOnlyDictionary<string, (double OverheadMs, double LeaseWaitMs)>? Queue = null,
        double? BusyCores = null, double? ServerBusyCores = null);

    private static async Task<Run> InProcessAsync(AnalysisRunner runner, AnalysisDefinition analysis, BoundParameters parameters, IQueryStepRunner local,
        PostgresServerCpu? server)
    {
        var machine = MachineCpu.Read();
        var serverStart = server?.ReadSeconds();
        var started = Stopwatch.GetTimestamp();
        var report = await runner.RunAsync(analysis, parameters, local, new AnalysisRunOptions(BypassCache: true), CancellationToken.None);
        var wallMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return new Run(report, wallMs, BusyCores: MachineCpu.BusyCoresSince(machine),
            ServerBusyCores: server is null ? null : server.BusyCoresSince(serverStart!.Value, wallMs));
    }

    /// <summary>An <c>analysis</c> job (mode distributed, cache bypassed), from enqueue to its completion as this process sees it.</summary>
    private static async Task<Run> DistributedAsync(PostgresJobQueue queue, string id, Dictionary<string, string> parameters)
    {
        var started = Stopwatch.GetTimestamp();
        var job = await queue.EnqueueAsync(AnalysisJob.TypeName, new AnalysisJob(id) { Parameters = parameters, Mode = "distributed", BypassCache = true });
        while (true)
        {
            await Task.Delay(2);
            var record = await queue.GetAsync(job.Id);
            if (record is { State: JobState.Completed })
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var report = record.Result!.Value.Deserialize<AnalysisReport>(JsonSerializerOptions.Web)!;
                return new Run(report, elapsed, await StepQueueTimesAsync(queue.DataSource, report, record.AttemptedAt!.Value, record.FinalizedAt!.Value));
            }
            if (record is null || JobStates.IsFinal(record.State))
            {
                throw new InvalidOperationException($"analysis job {job.Id} ({id}) ended {record?.State}: {string.Join("; ", record?.Errors.Select(e => e.Error) ?? [])}");
            }
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException($"analysis job {job.Id} ({id}) did not finish within 5 minutes");
            }
        }
    }

    /// <summary>
    /// The run's step jobs (created while its analysis job ran; analyses run one at a time here), matched to its steps by
    /// query and inputs: the coordinator's step time minus the job's run time in the Worker (lease to completion written).
    /// </summary>
    private static async Task<Dictionary<string, (double, double)>> StepQueueTimesAsync(NpgsqlDataSource dataSource, AnalysisReport report,
        DateTimeOffset from, DateTimeOffset to)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT payload::text, extract(epoch FROM finalized_at - attempted_at) * 1000, extract(epoch FROM attempted_at - created_at) * 1000
              FROM jobs.jobs WHERE type = $1 AND state = 4 AND created_at BETWEEN $2 AND $3
            """);
        command.Parameters.Add(new() { Value = AnalysisStepJob.TypeName });
        command.Parameters.Add(new() { Value = from });
        command.Parameters.Add(new() { Value = to });
        var jobs = new List<(AnalysisStepJob Payload, double RunMs, double WaitMs)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                jobs.Add((JsonSerializer.Deserialize<AnalysisStepJob>(reader.GetString(0), JsonSerializerOptions.Web)!, reader.GetDouble(1), reader.GetDouble(2)));
            }
        }
        var times = new Dictionary<string, (double, double)>(StringComparer.Ordinal);
        foreach (var step in report.Steps.Where(s => s.Kind == "query" && s.Status == StepStatus.Succeeded))
        {
            var match = jobs.Where(j => j.Payload.QueryId == step.QueryId && j.Payload.Inputs.Count == step.Parameters!.Count
                && j.Payload.Inputs.All(i => step.Parameters.TryGetValue(i.Key, out var v) && v == i.Value)).ToList();
            if (match.Count == 1)
            {
                times[step.Id] = ((step.ElapsedMs ?? 0) - match[0].RunMs, match[0].WaitMs);
            }
        }
        return times;
    }

    private static void Print(Dictionary<string, Dictionary<Mode, List<Run>>> results, int runs)
    {
        static double Med(IEnumerable<double> values) => values.Any() ? WorkloadBenchmark.Median([.. values]) : double.NaN;
        static string F(double value, string format = "0") => value.ToString(format, CultureInfo.InvariantCulture);

        Console.WriteLine();
        Console.WriteLine($"In-process (medians of {runs} runs; ms):");
        Console.WriteLine();
        Console.WriteLine("| analysis | steps | serial wall | parallel wall | critical-path bound | wall ÷ bound | saving vs serial | achieved parallelism | sum of step times, parallel / serial run | bound from the serial run's step times | " +
            $"PostgreSQL's busy cores of {Environment.ProcessorCount}, serial / parallel | machine's busy cores, serial / parallel | saving ceiling at the serial run's database CPU time |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (id, modes) in results)
        {
            var s = modes[Mode.Serial];
            var p = modes[Mode.Parallel];
            InProcessRow(id, s, p, "cap on");
            InProcessRow(id, s, modes[Mode.ParallelUncapped], "cap off");
            InProcessRow(id, s, modes[Mode.ParallelDeclarationOrder], "cap on, declaration order");
        }

        Console.WriteLine();
        Console.WriteLine("Parallel workers per gather the query steps ran under (every measured step; server setting when alone or uncapped):");
        foreach (var (id, modes) in results)
        {
            static string Spread(IEnumerable<Run> runs) => string.Join(", ", runs.SelectMany(r => r.Report.Steps)
                .Where(st => st.ParallelWorkersPerGather is not null).GroupBy(st => st.ParallelWorkersPerGather!.Value).OrderBy(g => g.Key)
                .Select(g => $"{g.Key}: {g.Count()}"));
            Console.WriteLine($"  {id}: serial {Spread(modes[Mode.Serial])}; cap on {Spread(modes[Mode.Parallel])}; cap off {Spread(modes[Mode.ParallelUncapped])}; " +
                $"cap on, declaration order {Spread(modes[Mode.ParallelDeclarationOrder])}");
        }

        Console.WriteLine();
        Console.WriteLine("Query steps the scheduler treated as critical (spared the cap), in how many of the cap-on runs:");
        foreach (var (id, modes) in results)
        {
            Console.WriteLine($"  {id}: " + string.Join(", ", modes[Mode.Parallel].SelectMany(r => r.Report.Steps)
                .Where(st => st.Kind == "query" && st.Critical == true).GroupBy(st => st.Id).OrderByDescending(g => g.Count())
                .Select(g => $"{g.Key} {g.Count()}/{modes[Mode.Parallel].Count}")));
        }

        Console.WriteLine();
        Console.WriteLine("Query steps, median time (ms) serial / cap on / cap off / cap on in declaration order, and median start (ms from the analysis's start) " +
            "cap on / cap off / cap on in declaration order:");
        foreach (var (id, modes) in results)
        {
            Console.WriteLine($"  {id}: " + string.Join("; ", modes[Mode.Serial][0].Report.Steps.Where(st => st.Kind == "query").Select(st =>
                $"{st.Id} {F(Med(modes[Mode.Serial].Select(r => StepMs(r, st.Id))))} / {F(Med(modes[Mode.Parallel].Select(r => StepMs(r, st.Id))))} / " +
                $"{F(Med(modes[Mode.ParallelUncapped].Select(r => StepMs(r, st.Id))))} / {F(Med(modes[Mode.ParallelDeclarationOrder].Select(r => StepMs(r, st.Id))))} " +
                $"@ {F(Med(modes[Mode.Parallel].Select(r => StartMs(r, st.Id))))} / {F(Med(modes[Mode.ParallelUncapped].Select(r => StartMs(r, st.Id))))} / " +
                $"{F(Med(modes[Mode.ParallelDeclarationOrder].Select(r => StartMs(r, st.Id))))}")));
        }

        if (results.Values.First()[Mode.Distributed].Count == 0)
        {
            return;
        }

        void InProcessRow(string id, List<Run> s, List<Run> p, string label)
        {
            var serialWall = Med(s.Select(r => r.Report.ElapsedMs));
            var parallelWall = Med(p.Select(r => r.Report.ElapsedMs));
            Console.WriteLine($"| `{id}` {label} | {p[0].Report.Steps.Count} | {F(serialWall)} | {F(parallelWall)} | {F(Med(p.Select(r => r.Report.CriticalPathMs)))} | " +
                $"{F(Med(p.Select(r => r.Report.ElapsedMs / r.Report.CriticalPathMs)), "0.00")} | {F(100 * (1 - parallelWall / serialWall), "0")} % | " +
                $"{F(Med(p.Select(r => r.Report.Parallelism)), "0.00")} | {F(Med(p.Select(r => r.Report.SerialMs)))} / {F(Med(s.Select(r => r.Report.SerialMs)))} | " +
                $"{F(Med(s.Select(r => r.Report.CriticalPathMs)))} | {F(Med(Server(s)), "0.00")} / {F(Med(Server(p)), "0.00")} | " +
                $"{F(Med(Machine(s)), "0.00")} / {F(Med(Machine(p)), "0.00")} | {F(100 * (1 - Med(Server(s)) / Environment.ProcessorCount), "0")} % |");
        }

        // A run whose queries keep the database server busy f of the machine's cores on average cannot, doing the same
        // work, finish in less than f of its wall on this machine: 1 − f is the most any schedule can save over it.
        static IEnumerable<double> Server(List<Run> runs) => runs.Where(r => r.ServerBusyCores is not null).Select(r => r.ServerBusyCores!.Value);
        static IEnumerable<double> Machine(List<Run> runs) => runs.Where(r => r.BusyCores is not null).Select(r => r.BusyCores!.Value);

        Console.WriteLine();
        Console.WriteLine($"Distributed: `analysis` jobs on the Worker processes (medians of {runs} runs; ms). Wall is the coordinator's report; " +
            "end to end adds the analysis job's own queueing and this process's polling.");
        Console.WriteLine();
        Console.WriteLine("| analysis | wall | end to end | critical-path bound | wall ÷ bound | saving vs in-process serial | achieved parallelism | " +
            "overhead per query step vs in-process (median) | min / max over its query steps | queueing per step: coordinator − Worker run time (median) | of which enqueue to lease |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (id, modes) in results)
        {
            var d = modes[Mode.Distributed];
            var serialWall = Med(modes[Mode.Serial].Select(r => r.Report.ElapsedMs));
            var wall = Med(d.Select(r => r.Report.ElapsedMs));
            // Per query step: its median elapsed distributed minus its median elapsed in the in-process parallel runs.
            var overheads = d[0].Report.Steps.Where(st => st.Kind == "query").Select(st =>
                Med(d.Select(r => StepMs(r, st.Id))) - Med(modes[Mode.Parallel].Select(r => StepMs(r, st.Id)))).ToList();
            Console.WriteLine($"| `{id}` | {F(wall)} | {F(Med(d.Select(r => r.EndToEndMs)))} | {F(Med(d.Select(r => r.Report.CriticalPathMs)))} | " +
                $"{F(Med(d.Select(r => r.Report.ElapsedMs / r.Report.CriticalPathMs)), "0.00")} | {F(100 * (1 - wall / serialWall), "0")} % | " +
                $"{F(Med(d.Select(r => r.Report.Parallelism)), "0.00")} | {F(Med(overheads), "0.0")} | {F(overheads.Min(), "0.0")} / {F(overheads.Max(), "0.0")} | " +
                $"{F(Med(d.SelectMany(r => r.Queue!.Values.Select(q => q.OverheadMs))), "0.0")} | {F(Med(d.SelectMany(r => r.Queue!.Values.Select(q => q.LeaseWaitMs))), "0.0")} |");
        }
    }

    private static double StepMs(Run run, string step) => run.Report.Steps.Single(s => s.Id == step).ElapsedMs ?? 0;

    private static double StartMs(Run run, string step) => run.Report.Steps.Single(s => s.Id == step).StartedMs ?? 0;

    /// <summary><see cref="BenchDatabase"/> on <paramref name="server"/>, created and seeded unless it holds this seed and scale; its connection string.</summary>
    internal static async Task<string> PrepareDatabaseAsync(string server, int seed, int scale)
    {
        var connectionString = await JobsBenchmark.EnsureDatabaseAsync(server, BenchDatabase);
        await SeedAsync(connectionString, seed, scale);
        return connectionString;
    }

    /// <summary>The product's initializer, as the Worker runs it at start: a database seeded with this seed and scale is kept.</summary>
    private static async Task SeedAsync(string connectionString, int seed, int scale)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContextPool<WorkforceDbContext>(o =>
        {
            o.UseNpgsql(connectionString);
            WorkforceDbContext.Configure(o);
        });
        services.AddNpgsqlDataSource(connectionString);
        services.AddWorkforceSeeding(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Seeding:Seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["Seeding:Scale"] = scale.ToString(CultureInfo.InvariantCulture),
        }).Build());
        await using var provider = services.BuildServiceProvider();
        var started = Stopwatch.GetTimestamp();
        var outcome = await provider.GetRequiredService<WorkforceDatabaseInitializer>().InitializeAsync(_ => { }, CancellationToken.None);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"database {BenchDatabase}: {outcome.Result} (seed {outcome.Marker?.Seed}, scale {outcome.Marker?.Scale:N0}, {outcome.Marker?.Rows:N0} rows) in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s"));
        if (outcome.Marker is not { } marker || marker.Seed != seed || marker.Scale != scale)
        {
            throw new InvalidOperationException($"{BenchDatabase} holds another seed or scale; drop it or pass that --seed/--scale.");
        }
    }

    /// <summary>The built Worker (artifacts/bin/AspirePerf.Worker/&lt;configuration&gt;/, beside this CLI's output) as a child process.</summary>
    private static Process StartWorker(string connectionString, string cache)
    {
        var benchDirectory = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var workerDll = Path.GetFullPath(Path.Combine(benchDirectory, "..", "..", "AspirePerf.Worker", Path.GetFileName(benchDirectory), "AspirePerf.Worker.dll"));
        if (!File.Exists(workerDll))
        {
            throw new InvalidOperationException($"{workerDll} is not built (dotnet build AspirePerf.sln -c Release).");
        }
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(workerDll);
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        // The password travels in the environment, not on a command line other users can read.
        start.Environment["ConnectionStrings__workforce"] = connectionString;
        start.Environment["ConnectionStrings__cache"] = cache;
        start.Environment["Seeding__Enabled"] = "false";
        start.Environment["Caching__Namespace"] = "bench-analyses-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // Nothing but the benchmark's jobs: no cache warming or retention running queries mid-measurement.
        start.Environment["Jobs__Recurring__cache-warm__Enabled"] = "false";
        start.Environment["Jobs__Recurring__maintenance__Enabled"] = "false";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                Console.Error.WriteLine($"  [worker {process.Id}] {line}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Cheap step jobs (a primary-key lookup) until every Worker process has completed one: all are up and draining.</summary>
    private static async Task WaitForWorkersAsync(PostgresJobQueue queue, NpgsqlDataSource dataSource, List<Process> workers)
    {
        var started = Stopwatch.StartNew();
        while (true)
        {
            for (var i = 0; i < 2 * workers.Count; i++)
            {
                await queue.EnqueueAsync(AnalysisStepJob.TypeName, new AnalysisStepJob("employer-profile", new() { ["employerId"] = "1" }) { BypassCache = true });
            }
            await Task.Delay(500);
            var owners = await StepOwnersAsync(dataSource);
            if (workers.All(w => owners.Keys.Any(o => o.Contains($"/{w.Id}/", StringComparison.Ordinal))))
            {
                Console.WriteLine($"{workers.Count} Worker processes ready ({started.Elapsed.TotalSeconds:0.0} s)");
                await JobsBenchmark.ExecuteAsync(dataSource, "TRUNCATE jobs.jobs CASCADE");
                return;
            }
            if (workers.FirstOrDefault(w => w.HasExited) is { } dead)
            {
                throw new InvalidOperationException($"Worker process {dead.Id} exited with {dead.ExitCode}");
            }
            if (started.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException("the Worker processes did not start draining the queue within 3 minutes");
            }
        }
    }

    private static async Task<Dictionary<string, long>> StepOwnersAsync(NpgsqlDataSource dataSource, string type = AnalysisStepJob.TypeName)
    {
        await using var command = dataSource.CreateCommand("SELECT lease_owner, count(*) FROM jobs.jobs WHERE type = $1 AND state = 4 GROUP BY 1");
        command.Parameters.Add(new() { Value = type });
        await using var reader = await command.ExecuteReaderAsync();
        var owners = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            owners[reader.GetString(0)] = reader.GetInt64(1);
        }
        return owners;
    }

    /// <summary>Where a step job's time goes besides its query: waiting for a lease, and the run as the Worker recorded it.</summary>
    private static async Task PrintQueueTimesAsync(NpgsqlDataSource dataSource, DateTimeOffset from)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM attempted_at - created_at)) * 1000,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM attempted_at - created_at)) * 1000,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finalized_at - attempted_at)) * 1000
              FROM jobs.jobs WHERE type = $1 AND state = 4 AND created_at >= $2
            """);
        command.Parameters.Add(new() { Value = AnalysisStepJob.TypeName });
        command.Parameters.Add(new() { Value = from });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  measured step jobs: {reader.GetInt64(0)}; enqueue to lease p50 {reader.GetDouble(1):0.0} ms, p90 {reader.GetDouble(2):0.0} ms; lease to completion written p50 {reader.GetDouble(3):0.0} ms"));
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static async Task PrintStepSpreadAsync(NpgsqlDataSource dataSource, List<Process> workers)
    {
        var steps = await StepOwnersAsync(dataSource);
        var coordinators = await StepOwnersAsync(dataSource, AnalysisJob.TypeName);
        foreach (var worker in workers)
        {
            var mine = $"/{worker.Id}/";
            Console.WriteLine($"  Worker process {worker.Id}: coordinated {coordinators.Where(o => o.Key.Contains(mine, StringComparison.Ordinal)).Sum(o => o.Value)} analyses, " +
                $"ran {steps.Where(o => o.Key.Contains(mine, StringComparison.Ordinal)).Sum(o => o.Value)} step jobs (warm-up included)");
        }
    }
}
