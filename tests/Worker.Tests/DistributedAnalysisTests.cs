using System.Collections.Concurrent;
using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.Performance.Orchestration;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AspirePerf.Worker.Tests;

/// <summary>
/// The distributed mode against the real servers: an <c>analysis</c> job whose query steps are <c>analysis-step</c>
/// jobs run by other processors answers exactly what the same analysis run in-process answers (every step's status,
/// parameters, columns and rows), with the same failure semantics, and also when the Worker process running one of its
/// steps is killed (SIGKILL) mid-query: the step runs again elsewhere once the lease expires.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class DistributedAnalysisTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private string _database = null!;

    /// <summary>Cache keys name a query and its parameters, not the database: each test caches in a namespace of its own.</summary>
    private readonly string _cacheNamespace = "distributed-" + Guid.NewGuid().ToString("N")[..8];

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync("distributed_analysis", seed: 9, scale: 20_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>As tests/ApiService.Tests/AnalysesApiTests.cs runs them.</summary>
    public static TheoryData<string, string> Analyses() => new()
    {
        { "sector-briefing", "sector=CON" },
        { "employer-profile", "employerId=100" },
        { "wage-gap-study", "" },
        { "vacancy-pressure", "" },
    };

    [Theory]
    [MemberData(nameof(Analyses))]
    public async Task Distributed_over_two_processors_answers_what_in_process_answers(string id, string query)
    {
        // Two processors, each running one step job at a time and holding its first until the other has started one:
        // the analysis's steps certainly run in both (every analysis has at least two steps ready at once).
        var spread = new StepSpread(2);
        await using var first = await StartAnalysisHostAsync(coordinator: true, spread: spread);
        await using var second = await StartAnalysisHostAsync(coordinator: true, spread: spread);
        var parameters = Parse(query);

        // Distributed through the cache (step hosts' misses fill it), in-process computed afresh: the same values either way.
        var distributed = await RunToCompletionAsync(first.Queue, new AnalysisJob(id) { Parameters = parameters, Mode = "distributed" });
        var inProcess = await RunToCompletionAsync(first.Queue, new AnalysisJob(id) { Parameters = parameters, Mode = "in-process", BypassCache = true });

        AssertComplete(inProcess);
        AssertSameAnswers(inProcess, distributed);
        var queryStepCount = distributed.GetProperty("steps").EnumerateArray().Count(s => s.GetProperty("kind").GetString() == "query");
        var owners = await StepJobOwnersAsync(first);
        Assert.Equal(queryStepCount, owners.Count);
        Assert.Equal(new[] { first.Processor.Owner, second.Processor.Owner }.Order(), owners.Distinct().Order());
    }

    [Fact]
    public async Task A_failing_upstream_skips_the_same_steps_in_both_modes()
    {
        await using var first = await StartAnalysisHostAsync(coordinator: true);
        await using var second = await StartAnalysisHostAsync(coordinator: false);
        var parameters = new Dictionary<string, string> { ["employerId"] = "2000000000" };

        var distributed = await RunToCompletionAsync(first.Queue, new AnalysisJob("employer-profile") { Parameters = parameters, Mode = "distributed", BypassCache = true });
        var inProcess = await RunToCompletionAsync(first.Queue, new AnalysisJob("employer-profile") { Parameters = parameters, Mode = "in-process", BypassCache = true });

        foreach (var report in new[] { inProcess, distributed })
        {
            Assert.Equal("partial", report.GetProperty("status").GetString());
            Assert.Equal(new Dictionary<string, string>
            {
                ["profile"] = "succeeded",
                ["history"] = "succeeded",
                ["sector-wages"] = "failed",
                ["sector-growth"] = "failed",
                ["sector-headcount"] = "failed",
                ["summary"] = "skipped",
            }, Statuses(report));
        }
        AssertSameAnswers(inProcess, distributed);
    }

    [Fact]
    public async Task A_worker_process_killed_mid_step_loses_the_step_to_another_processor_and_the_analysis_completes_with_the_same_answers()
    {
        // The coordinator runs analysis jobs only; until the survivor starts, the Worker process is the only step processor.
        await using var coordinator = await StartAnalysisHostAsync(coordinator: true, steps: false,
            settings: new() { ["Orchestration:StepTimeout"] = "00:05:00" });
        var dataSource = coordinator.Services.GetRequiredService<NpgsqlDataSource>();
        var inProcess = await RunToCompletionAsync(coordinator.Queue, new AnalysisJob("vacancy-pressure") { Mode = "in-process", BypassCache = true });
        AssertComplete(inProcess);

        // Hold the one step that reads vacancies (time-to-fill) mid-query: an exclusive lock, in a transaction kept open.
        await using var locker = await dataSource.OpenConnectionAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("LOCK TABLE vacancies IN ACCESS EXCLUSIVE MODE", locker, lockTransaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        var job = await coordinator.Queue.EnqueueAsync(AnalysisJob.TypeName, new AnalysisJob("vacancy-pressure") { Mode = "distributed", BypassCache = true });
        await Eventually.ReturnsAsync(() => coordinator.Queue.GetAsync(job.Id), j => j!.State == JobState.Running, Patience, "the coordinator took the analysis");
        using var worker = KilledWorkerProcessTests.StartWorkerProcess(_database, infrastructure.Redis.ConnectionString,
            new Dictionary<string, string> { ["Caching__Namespace"] = _cacheNamespace });
        try
        {
            var stepId = await Eventually.ReturnsAsync(() => StepJobIdAsync(dataSource, "vacancy-time-to-fill"), id => id is not null, Patience,
                "the coordinator enqueued the time-to-fill step");
            var leased = await Eventually.ReturnsAsync(() => coordinator.Queue.GetAsync(stepId!.Value),
                j => j!.State == JobState.Running && j.LeaseOwner!.Contains($"/{worker.Id}/", StringComparison.Ordinal),
                Patience, "the worker process runs the time-to-fill step");
            Assert.Equal(1, leased!.Attempt);
            // Mid-analysis: every other query step (the three other roots and the three that follow the growth ranking)
            // has run in the Worker process; time-to-fill is still held there by the lock.
            var others = await Eventually.ReturnsAsync(() => StepJobOwnersAsync(coordinator),
                o => o.Count(owner => owner.Contains($"/{worker.Id}/", StringComparison.Ordinal)) == 6, Patience,
                "the worker process completed the six other query steps");
            Assert.Equal(6, others.Count);
            Assert.Equal(JobState.Running, (await coordinator.Queue.GetAsync(stepId!.Value))!.State);
            Assert.Equal(JobState.Running, (await coordinator.Queue.GetAsync(job.Id))!.State);

            worker.Kill(entireProcessTree: true);
            await worker.WaitForExitAsync();
            await lockTransaction.RollbackAsync();

            await using var survivor = await StartAnalysisHostAsync(coordinator: false);
            var distributed = await WaitForResultAsync(coordinator.Queue, job.Id);

            AssertComplete(distributed);
            AssertSameAnswers(inProcess, distributed);
            var rerun = (await coordinator.Queue.GetAsync(stepId!.Value))!;
            Assert.Equal(JobState.Completed, rerun.State);
            Assert.Equal(2, rerun.Attempt);
            Assert.Equal(survivor.Processor.Owner, rerun.LeaseOwner);
            var lost = Assert.Single(rerun.Errors);
            Assert.Contains("lease expired", lost.Error, StringComparison.Ordinal);
            Assert.Contains($"/{worker.Id}/", lost.Error, StringComparison.Ordinal);
            // Nothing else ran twice: the six steps the Worker completed stay its own, the seventh is the survivor's.
            var owners = await StepJobOwnersAsync(coordinator);
            Assert.Equal(7, owners.Count);
            Assert.Equal(6, owners.Count(o => o.Contains($"/{worker.Id}/", StringComparison.Ordinal)));
            await using var attempts = dataSource.CreateCommand("SELECT array_agg(attempt ORDER BY id) FROM jobs.jobs WHERE type = $1");
            attempts.Parameters.Add(new() { Value = AnalysisStepJob.TypeName });
            Assert.Equal(6, ((int[])(await attempts.ExecuteScalarAsync())!).Count(a => a == 1));
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task A_step_job_whose_database_session_is_terminated_runs_again_and_the_analysis_completes()
    {
        await using var coordinator = await StartAnalysisHostAsync(coordinator: true, steps: false);
        var dataSource = coordinator.Services.GetRequiredService<NpgsqlDataSource>();
        var inProcess = await RunToCompletionAsync(coordinator.Queue, new AnalysisJob("vacancy-pressure") { Mode = "in-process", BypassCache = true });
        await using var steps = await StartAnalysisHostAsync(coordinator: false, settings: new() { ["Jobs:BackoffBase"] = "00:00:00.100" });

        // time-to-fill waits on a lock, then its session is ended by the server (as a failover or an operator would):
        // a dropped connection, which the step job's attempts are there for.
        await using var locker = await dataSource.OpenConnectionAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("LOCK TABLE vacancies IN ACCESS EXCLUSIVE MODE", locker, lockTransaction))
        {
            await take.ExecuteNonQueryAsync();
        }
        var job = await coordinator.Queue.EnqueueAsync(AnalysisJob.TypeName, new AnalysisJob("vacancy-pressure") { Mode = "distributed", BypassCache = true });
        var waiting = await Eventually.ReturnsAsync(() => PostgresLocks.BackendWaitingOnAsync(dataSource, "vacancies"), pid => pid is not null, Patience,
            "the time-to-fill step waits for the lock");
        await using (var terminate = dataSource.CreateCommand("SELECT pg_terminate_backend($1)"))
        {
            terminate.Parameters.Add(new() { Value = waiting!.Value });
            Assert.True((bool)(await terminate.ExecuteScalarAsync())!);
        }
        await lockTransaction.RollbackAsync();
        var distributed = await WaitForResultAsync(coordinator.Queue, job.Id);

        AssertComplete(distributed);
        AssertSameAnswers(inProcess, distributed);
        var step = (await coordinator.Queue.GetAsync((await StepJobIdAsync(dataSource, "vacancy-time-to-fill"))!.Value))!;
        Assert.Equal(JobState.Completed, step.State);
        Assert.Equal(2, step.Attempt);
        Assert.Contains("57P01", Assert.Single(step.Errors).Error, StringComparison.Ordinal);
    }

    /// <summary>A processor host wired as the Worker wires analyses: queries, the Redis-backed cache, analyses, the job types.</summary>
    private Task<JobHost> StartAnalysisHostAsync(bool coordinator, bool steps = true, StepSpread? spread = null, Dictionary<string, string?>? settings = null)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = infrastructure.Redis.ConnectionString,
            ["Caching:Namespace"] = _cacheNamespace,
        };
        if (spread is not null)
        {
            configuration[$"Jobs:Types:{AnalysisStepJob.TypeName}:Concurrency"] = "1";
        }
        foreach (var (key, value) in settings ?? [])
        {
            configuration[key] = value;
        }
        return JobHost.StartAsync(_database, services =>
        {
            if (coordinator)
            {
                services.AddJobHandler<AnalysisJob, AnalysisJobHandler>(AnalysisJob.TypeName);
            }
            if (steps && spread is null)
            {
                services.AddJobHandler<AnalysisStepJob, AnalysisStepJobHandler>(AnalysisStepJob.TypeName);
            }
            else if (steps)
            {
                services.AddSingleton(new StepSpread.Member(spread!));
                services.AddJobHandler<AnalysisStepJob, SpreadStepHandler>(AnalysisStepJob.TypeName);
            }
        }, configuration, configure: builder =>
        {
            builder.AddRedisClient("cache");
            builder.Services.AddWorkforceQueries(builder.Configuration);
            builder.Services.AddAdaptiveCaching(builder.Configuration);
            builder.Services.AddWorkforceAnalyses(builder.Configuration);
            builder.Services.AddWorkforceJobTypes();
        });
    }

    private static async Task<JsonElement> RunToCompletionAsync(PostgresJobQueue queue, AnalysisJob analysis)
    {
        var job = await queue.EnqueueAsync(AnalysisJob.TypeName, analysis);
        return await WaitForResultAsync(queue, job.Id);
    }

    private static async Task<JsonElement> WaitForResultAsync(PostgresJobQueue queue, long id)
    {
        var done = await Eventually.ReturnsAsync(() => queue.GetAsync(id), j => JobStates.IsFinal(j!.State), Patience, $"analysis job {id} ended");
        Assert.True(done!.State == JobState.Completed, $"analysis job {id} ended {done.State}: {string.Join("; ", done.Errors.Select(e => e.Error))}");
        return done.Result!.Value;
    }

    private static void AssertComplete(JsonElement report) => Assert.True(report.GetProperty("status").GetString() == "complete",
        $"{report.GetProperty("mode")} run ended {report.GetProperty("status")}: " + string.Join("; ", report.GetProperty("steps").EnumerateArray()
            .Where(s => s.GetProperty("status").GetString() != "succeeded").Select(s => $"{s.GetProperty("id")} {s.GetProperty("status")}: {s.GetProperty("error")}")));

    /// <summary>Everything but timings and cache outcomes, step by step.</summary>
    private static void AssertSameAnswers(JsonElement inProcess, JsonElement distributed)
    {
        Assert.Equal("in-process", inProcess.GetProperty("mode").GetString());
        Assert.Equal("distributed", distributed.GetProperty("mode").GetString());
        Assert.Equal(inProcess.GetProperty("analysisId").GetString(), distributed.GetProperty("analysisId").GetString());
        Assert.Equal(inProcess.GetProperty("parameters").GetRawText(), distributed.GetProperty("parameters").GetRawText());
        Assert.Equal(inProcess.GetProperty("status").GetString(), distributed.GetProperty("status").GetString());
        var expected = Answers(inProcess);
        var actual = Answers(distributed);
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (step, answer) in expected)
        {
            Assert.Equal(answer, actual[step]);
        }
    }

    /// <summary>
    /// A skipped step's error names the dependency whose failure reached the scheduler first, which depends on timing in
    /// either mode: it is checked to be one of the step's dependencies that did not succeed, then compared as "skipped".
    /// </summary>
    private static Dictionary<string, string> Answers(JsonElement report)
    {
        var steps = report.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("id").GetString()!);
        return steps.ToDictionary(s => s.Key, s => string.Join("\n", new[] { "kind", "queryId", "dependsOn", "parameters", "status", "error", "columns", "rows", "rowCount" }
            .Select(p => $"{p}: {(p == "error" && s.Value.GetProperty("status").GetString() == "skipped" ? SkipCause(s.Value, steps) : s.Value.TryGetProperty(p, out var value) ? value.GetRawText() : "(absent)")}")));
    }

    private static string SkipCause(JsonElement step, Dictionary<string, JsonElement> steps)
    {
        var error = step.GetProperty("error").GetString()!;
        var cause = steps.Keys.SingleOrDefault(id => error == $"Skipped: step '{id}' did not succeed.");
        Assert.True(cause is not null, $"step {step.GetProperty("id")}: unexpected skip reason '{error}'");
        Assert.Contains(cause, step.GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()));
        Assert.NotEqual("succeeded", steps[cause].GetProperty("status").GetString());
        return "skipped after a dependency did not succeed";
    }

    private static Dictionary<string, string> Statuses(JsonElement report) => report.GetProperty("steps").EnumerateArray()
        .ToDictionary(s => s.GetProperty("id").GetString()!, s => s.GetProperty("status").GetString()!);

    private static Dictionary<string, string> Parse(string query) => query.Split('&', StringSplitOptions.RemoveEmptyEntries)
        .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    /// <summary>The lease owner of every completed step job in this test's database (owner is kept on completion).</summary>
    private static async Task<List<string>> StepJobOwnersAsync(JobHost host)
    {
        await using var command = host.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT lease_owner FROM jobs.jobs WHERE type = $1 AND state = 4 ORDER BY id");
        command.Parameters.Add(new() { Value = AnalysisStepJob.TypeName });
        await using var reader = await command.ExecuteReaderAsync();
        var owners = new List<string>();
        while (await reader.ReadAsync())
        {
            owners.Add(reader.GetString(0));
        }
        return owners;
    }

    private static async Task<long?> StepJobIdAsync(NpgsqlDataSource dataSource, string queryId)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM jobs.jobs WHERE type = $1 AND payload->>'queryId' = $2 ORDER BY id LIMIT 1");
        command.Parameters.Add(new() { Value = AnalysisStepJob.TypeName });
        command.Parameters.Add(new() { Value = queryId });
        return (long?)await command.ExecuteScalarAsync();
    }
}

/// <summary>
/// Makes the spread of step jobs over processors certain rather than likely: each processor's first step waits until
/// every processor has started one (or a minute has passed, and then the spread assertion fails).
/// </summary>
public sealed class StepSpread(int processors)
{
    private readonly ConcurrentDictionary<Member, bool> _entered = new();
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task EnterAsync(Member member, CancellationToken cancellationToken)
    {
        if (_entered.TryAdd(member, true) && _entered.Count >= processors)
        {
            _all.TrySetResult();
        }
        try
        {
            await _all.Task.WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
        }
        catch (TimeoutException)
        {
            // Not spread: the step runs anyway and the test's owner assertion reports it.
        }
    }

    /// <summary>One processor host's place in the spread.</summary>
    public sealed class Member(StepSpread spread)
    {
        public Task EnterAsync(CancellationToken cancellationToken) => spread.EnterAsync(this, cancellationToken);
    }
}

/// <summary>The product's step handler, entered through the spread gate.</summary>
public sealed class SpreadStepHandler(StepSpread.Member member, QueryRegistry queries, IQueryStepRunner local) : IJobHandler<AnalysisStepJob>
{
    public async Task HandleAsync(JobContext<AnalysisStepJob> job, CancellationToken cancellationToken)
    {
        await member.EnterAsync(cancellationToken);
        await new AnalysisStepJobHandler(queries, local).HandleAsync(job, cancellationToken);
    }
}
