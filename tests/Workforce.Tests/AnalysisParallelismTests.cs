using System.Globalization;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Extensions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace AspirePerf.Workforce.Tests;

/// <summary>
/// The in-process runner against a real PostgreSQL: concurrent query steps cap their parallel workers in their own
/// transaction (a step alone and the critical step keep the server's setting), pooled sessions keep the default,
/// answers do not change, a transient database error is retried once, and ready steps start longest estimated
/// remaining path first, the estimates following each run.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class AnalysisParallelismTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const int Pool = 4;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _cacheNamespace = "par-" + Guid.NewGuid().ToString("N")[..16];
    private string _database = null!;
    private string _serverDefault = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync("analysis_parallelism");
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var show = new NpgsqlCommand("SHOW max_parallel_workers_per_gather", connection);
        _serverDefault = (string)(await show.ExecuteScalarAsync())!;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Overlapping_query_steps_run_with_capped_parallel_workers_and_the_pooled_sessions_keep_the_default()
    {
        Assert.Equal("2", _serverDefault); // PostgreSQL's default, which the expectations below start from
        await using var provider = Services(new() { ["Orchestration:DatabaseParallelBudget"] = "4" });
        var gate = new Gate(provider.GetRequiredService<IQueryStepRunner>(), Pool);

        var report = await RunAsync(provider, "wage-gap-study", gate);

        Assert.Equal(AnalysisStatus.Complete, report.Status);
        var queries = report.Steps.Where(s => s.Kind == "query").ToList();
        // The first four start together (the gate holds each until all four have started): each saw four running.
        Assert.True(queries.Count(s => s.QueryStepsRunning == Pool) >= Pool, Describe(queries));
        // The first of them is on the critical path (equal weights: the first declared) and keeps the server's setting.
        Assert.True(report.Steps.Single(s => s.Id == "gender-gap").Critical);
        Assert.Contains(queries, s => s.QueryStepsRunning == Pool && s.Critical == false && s.ParallelWorkersPerGather == 0);
        Assert.All(queries, s =>
        {
            Assert.Equal(1, s.Attempts);
            AssertCappedUnlessCritical(s, budget: 4);
        });
        Assert.Null(report.Steps.Single(s => s.Kind == "synthesis").ParallelWorkersPerGather);

        // Every connection of the pool (four at once is all of them): the transaction-local cap ended with each step.
        var dataSource = provider.GetRequiredService<NpgsqlDataSource>();
        var connections = await Task.WhenAll(Enumerable.Range(0, Pool).Select(_ => dataSource.OpenConnectionAsync().AsTask()));
        try
        {
            foreach (var connection in connections)
            {
                await using var show = new NpgsqlCommand("SELECT current_setting('max_parallel_workers_per_gather')", connection);
                Assert.Equal(_serverDefault, await show.ExecuteScalarAsync());
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_step_running_alone_or_with_the_cap_off_keeps_the_servers_setting_and_the_answers_are_the_same_every_way()
    {
        Assert.Equal("2", _serverDefault); // PostgreSQL's default, which the expectations below start from
        await using var capped = Services(new() { ["Orchestration:DatabaseParallelBudget"] = "2" });
        await using var uncapped = Services(new() { ["Orchestration:DatabaseParallelBudget"] = "2", ["Orchestration:CapDatabaseParallelism"] = "false" });
        await using var serial = Services(new() { ["Orchestration:DatabaseParallelBudget"] = "2", ["Orchestration:MaxParallelStepsPerAnalysis"] = "1" });

        var withCap = await RunAsync(capped, "sector-briefing", new Gate(capped.GetRequiredService<IQueryStepRunner>(), Pool));
        var withoutCap = await RunAsync(uncapped, "sector-briefing", new Gate(uncapped.GetRequiredService<IQueryStepRunner>(), Pool));
        var alone = await RunAsync(serial, "sector-briefing", serial.GetRequiredService<IQueryStepRunner>());
        // Through the cache: the first run's misses store what ran capped; the second run (another provider: its own
        // memory cache, the same Redis namespace) reads those entries back.
        var cachedMisses = await RunAsync(capped, "sector-briefing", capped.GetRequiredService<IQueryStepRunner>(), bypassCache: false);
        var cachedHits = await RunAsync(uncapped, "sector-briefing", uncapped.GetRequiredService<IQueryStepRunner>(), bypassCache: false);

        var cappedSteps = withCap.Steps.Where(s => s.Kind == "query").ToList();
        Assert.Contains(cappedSteps, s => s.QueryStepsRunning > 1 && s.ParallelWorkersPerGather == 0);
        Assert.All(cappedSteps.Where(s => s.QueryStepsRunning == 1), s => Assert.Equal(2, s.ParallelWorkersPerGather));
        Assert.Contains(withoutCap.Steps, s => s.QueryStepsRunning > 1);
        Assert.All(withoutCap.Steps.Where(s => s.Kind == "query"), s => Assert.Equal(2, s.ParallelWorkersPerGather));
        Assert.All(alone.Steps.Where(s => s.Kind == "query"), s =>
        {
            Assert.Equal(1, s.QueryStepsRunning);
            Assert.Equal(2, s.ParallelWorkersPerGather);
        });
        Assert.All(cachedHits.Steps.Where(s => s.Kind == "query"), s =>
        {
            Assert.Equal("hit", s.Cache);
            Assert.Null(s.ParallelWorkersPerGather); // nothing ran
        });
        foreach (var other in new[] { withoutCap, alone, cachedMisses, cachedHits })
        {
            Assert.Equal(AnalysisStatus.Complete, other.Status);
            foreach (var step in withCap.Steps)
            {
                Assert.Equal(step.Rows, other.Steps.Single(s => s.Id == step.Id).Rows);
            }
        }
    }

    [Fact]
    public async Task An_in_process_step_whose_session_is_terminated_runs_once_more_and_the_analysis_completes()
    {
        await using var provider = Services([]);
        var dataSource = provider.GetRequiredService<NpgsqlDataSource>();
        var expected = await RunAsync(provider, "vacancy-pressure", provider.GetRequiredService<IQueryStepRunner>());

        // time-to-fill waits on a lock, then the server ends its session (as a failover or an operator would).
        await using var locker = new NpgsqlConnection(_database + ";Pooling=false");
        await locker.OpenAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("LOCK TABLE vacancies IN ACCESS EXCLUSIVE MODE", locker, lockTransaction))
        {
            await take.ExecuteNonQueryAsync();
        }
        var run = RunAsync(provider, "vacancy-pressure", provider.GetRequiredService<IQueryStepRunner>());
        var waiting = await Eventually.ReturnsAsync(() => PostgresLocks.BackendWaitingOnAsync(dataSource, "vacancies"), pid => pid is not null, Patience,
            "the time-to-fill step waits for the lock");
        await using (var terminate = dataSource.CreateCommand("SELECT pg_terminate_backend($1)"))
        {
            terminate.Parameters.Add(new() { Value = waiting!.Value });
            Assert.True((bool)(await terminate.ExecuteScalarAsync())!);
        }
        await lockTransaction.RollbackAsync();
        var report = await run;

        Assert.Equal(AnalysisStatus.Complete, report.Status);
        var fill = report.Steps.Single(s => s.Id == "time-to-fill");
        Assert.Equal(2, fill.Attempts);
        Assert.All(report.Steps.Where(s => s.Kind == "query" && s.Id != "time-to-fill"), s => Assert.Equal(1, s.Attempts));
        foreach (var step in expected.Steps)
        {
            Assert.Equal(step.Rows, report.Steps.Single(s => s.Id == step.Id).Rows);
        }
    }

    [Fact]
    public async Task When_the_per_analysis_limit_binds_the_ready_steps_start_longest_remaining_path_first()
    {
        await using var provider = Services(new() { ["Orchestration:DatabaseParallelBudget"] = "2" });
        var runner = provider.GetRequiredService<AnalysisRunner>();
        // sector-briefing has five root steps and a limit of four: headcount, declared first, has the shortest path.
        foreach (var (step, ms) in new[]
        {
            ("headcount", 100.0), ("wages", 400.0), ("hires", 300.0), ("turnover", 900.0), ("top-employers", 200.0),
            ("leader-history", 150.0), ("briefing", 1.0),
        })
        {
            runner.Costs.Observe("sector-briefing", step, ms);
        }
        var gate = new Gate(provider.GetRequiredService<IQueryStepRunner>(), Pool);

        var report = await RunAsync(provider, "sector-briefing", gate);

        Assert.Equal(AnalysisStatus.Complete, report.Status);
        var byQuery = report.Steps.Where(s => s.Kind == "query").ToDictionary(s => s.QueryId!, s => s.Id);
        var entered = gate.Entered.Select(q => byQuery[q]).ToList();
        // The four that start (remaining paths 901, 401, 351, 301; in any order, they start together) are those the
        // gate holds until all have started; headcount (101), declared first, waits for a slot.
        Assert.Equal(["hires", "top-employers", "turnover", "wages"], entered.Take(Pool).Order());
        Assert.Contains("headcount", entered.Skip(Pool));
        Assert.True(report.Steps.Single(s => s.Id == "turnover").Critical);
        Assert.All(report.Steps.Where(s => s.Id is "wages" or "top-employers" or "hires"), s => Assert.Equal(false, s.Critical));
    }

    [Fact]
    public async Task One_step_at_a_time_runs_in_order_of_remaining_path_and_equal_weights_favour_the_longest_chain()
    {
        await using var provider = Services(new() { ["Orchestration:MaxParallelStepsPerAnalysis"] = "1" });
        var steps = provider.GetRequiredService<IQueryStepRunner>();

        // Nothing measured: every step weighs the same, so top-employers (three steps to the end) starts first.
        var first = await RunAsync(provider, "sector-briefing", steps);
        Assert.Equal(["top-employers", "headcount", "wages", "hires", "turnover", "leader-history", "briefing"], StartOrder(first));

        var runner = provider.GetRequiredService<AnalysisRunner>();
        foreach (var (step, ms) in new[]
        {
            ("headcount", 100.0), ("wages", 400.0), ("hires", 300.0), ("turnover", 900.0), ("top-employers", 200.0),
            ("leader-history", 250.0), ("briefing", 1.0),
        })
        {
            // Far above this small database's times: these measurements outweigh the first run's.
            for (var i = 0; i < 30; i++)
            {
                runner.Costs.Observe("sector-briefing", step, ms);
            }
        }
        var second = await RunAsync(provider, "sector-briefing", steps);
        // 901, 451 (top-employers 200 + leader-history 250 + 1), 401, 301, then leader-history (251) once ready, 101.
        Assert.Equal(["turnover", "top-employers", "wages", "hires", "leader-history", "headcount", "briefing"], StartOrder(second));
    }

    [Fact]
    public async Task Each_run_that_computes_its_steps_updates_their_estimates_and_cache_hits_leave_them_alone()
    {
        await using var provider = Services([]);
        var runner = provider.GetRequiredService<AnalysisRunner>();
        var steps = provider.GetRequiredService<IQueryStepRunner>();
        var analysis = provider.GetRequiredService<AnalysisRegistry>().Find("wage-gap-study")!;
        Assert.All(analysis.Steps, s => Assert.Null(runner.Costs.Estimate(analysis.Id, s.Id)));

        var first = await RunAsync(provider, analysis.Id, steps);
        Assert.All(first.Steps, s => Assert.Equal(s.ElapsedMs!.Value, runner.Costs.Estimate(analysis.Id, s.Id)!.Value, 6));

        var second = await RunAsync(provider, analysis.Id, steps);
        foreach (var step in second.Steps)
        {
            var before = first.Steps.Single(s => s.Id == step.Id).ElapsedMs!.Value;
            Assert.Equal(before + StepCostModel.NewestWeight * (step.ElapsedMs!.Value - before), runner.Costs.Estimate(analysis.Id, step.Id)!.Value, 6);
        }

        // Through the cache: the miss is a measurement, the hit (no query ran) is not.
        await RunAsync(provider, analysis.Id, steps, bypassCache: false);
        var afterMiss = analysis.Steps.ToDictionary(s => s.Id, s => runner.Costs.Estimate(analysis.Id, s.Id)!.Value);
        var hits = await RunAsync(provider, analysis.Id, steps, bypassCache: false);
        Assert.All(hits.Steps.Where(s => s.Kind == "query"), s =>
        {
            Assert.Equal("hit", s.Cache);
            Assert.Equal(afterMiss[s.Id], runner.Costs.Estimate(analysis.Id, s.Id));
        });
    }

    [Fact]
    public async Task The_critical_step_keeps_the_servers_parallel_workers_while_its_siblings_are_capped()
    {
        Assert.Equal("2", _serverDefault);
        await using var provider = Services(new() { ["Orchestration:DatabaseParallelBudget"] = "4" });
        var runner = provider.GetRequiredService<AnalysisRunner>();
        // wage-gap-study: the histogram, declared last of five roots, is measured the longest.
        foreach (var (step, ms) in new[]
        {
            ("gender-gap", 400.0), ("education", 200.0), ("percentiles", 300.0), ("nationalization", 100.0), ("histogram", 1000.0), ("summary", 1.0),
        })
        {
            runner.Costs.Observe("wage-gap-study", step, ms);
        }
        var gate = new Gate(provider.GetRequiredService<IQueryStepRunner>(), Pool);

        var report = await RunAsync(provider, "wage-gap-study", gate);

        Assert.Equal(AnalysisStatus.Complete, report.Status);
        var byId = report.Steps.ToDictionary(s => s.Id);
        Assert.True(byId["histogram"].Critical);
        Assert.Equal(Pool, byId["histogram"].QueryStepsRunning);
        Assert.Equal(2, byId["histogram"].ParallelWorkersPerGather); // the server's setting, with three siblings running
        foreach (var sibling in new[] { "gender-gap", "percentiles", "education" })
        {
            Assert.Equal(false, byId[sibling].Critical);
            Assert.Equal(Pool, byId[sibling].QueryStepsRunning);
            Assert.Equal(0, byId[sibling].ParallelWorkersPerGather); // budget 4 over 4 steps: 4 / 4 − 1
        }
        // nationalization started when a slot freed: critical or not depends on what had ended by then; either way consistent.
        Assert.All(report.Steps.Where(s => s.Kind == "query"), s => AssertCappedUnlessCritical(s, budget: 4));
    }

    /// <summary>A critical step or one alone keeps the server's 2; another gets least(2, budget ÷ running − 1, at least 0).</summary>
    private static void AssertCappedUnlessCritical(StepReport step, int budget) =>
        Assert.Equal(step.Critical == true || step.QueryStepsRunning == 1 ? 2 : Math.Min(2, Math.Max(0, budget / step.QueryStepsRunning!.Value - 1)),
            step.ParallelWorkersPerGather);

    private static List<string> StartOrder(AnalysisReport report) =>
        [.. report.Steps.OrderBy(s => s.StartedMs).Select(s => s.Id)];

    private ServiceProvider Services(Dictionary<string, string?> settings)
    {
        settings["Orchestration:MaxParallelSteps"] = Pool.ToString(CultureInfo.InvariantCulture);
        settings["Caching:Namespace"] = _cacheNamespace; // one per test instance: a second provider reads the first's entries from Redis
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        services.AddMetrics();
        services.AddNpgsqlDataSource(_database + $";Maximum Pool Size={Pool}");
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(infrastructure.Redis.ConnectionString));
        services.AddWorkforceQueries(configuration);
        services.AddAdaptiveCaching(configuration);
        services.AddWorkforceAnalyses(configuration);
        return services.BuildServiceProvider();
    }

    private static async Task<AnalysisReport> RunAsync(IServiceProvider provider, string id, IQueryStepRunner steps, bool bypassCache = true)
    {
        var analysis = provider.GetRequiredService<AnalysisRegistry>().Find(id)!;
        var raw = id == "sector-briefing" ? new Dictionary<string, string> { ["sector"] = "CON" } : [];
        var (parameters, errors) = AnalysisBinding.Bind(analysis, raw.Select(p => new KeyValuePair<string, IReadOnlyList<string?>>(p.Key, [p.Value])));
        Assert.True(parameters is not null, string.Join("; ", errors.Keys));
        return await provider.GetRequiredService<AnalysisRunner>().RunAsync(analysis, parameters, steps,
            new AnalysisRunOptions(BypassCache: bypassCache), CancellationToken.None);
    }

    private static string Describe(IEnumerable<StepReport> steps) =>
        string.Join(", ", steps.Select(s => $"{s.Id}: {s.QueryStepsRunning} running, {s.ParallelWorkersPerGather} workers"));

    /// <summary>
    /// The product's step runner, each of the first <c>count</c> steps held until all of them have started: they overlap
    /// for certain, however fast the small database answers.
    /// </summary>
    private sealed class Gate(IQueryStepRunner inner, int count) : IQueryStepRunner
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _entered;

        public string Mode => inner.Mode;

        /// <summary>Query ids in the order their steps reached the runner.</summary>
        public System.Collections.Concurrent.ConcurrentQueue<string> Entered { get; } = new();

        public async Task<QueryStepResult> RunAsync(QueryDefinition query, IReadOnlyDictionary<string, string> inputs, bool bypassCache,
            QueryParallelism? parallelism, CancellationToken cancellationToken)
        {
            Entered.Enqueue(query.Id);
            if (Interlocked.Increment(ref _entered) <= count)
            {
                if (Volatile.Read(ref _entered) >= count)
                {
                    _all.TrySetResult();
                }
                await _all.Task.WaitAsync(cancellationToken);
            }
            return await inner.RunAsync(query, inputs, bypassCache, parallelism, cancellationToken);
        }
    }
}
