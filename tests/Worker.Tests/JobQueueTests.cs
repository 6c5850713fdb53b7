using System.Text.Json;
using AspirePerf.Performance.Jobs;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.Worker.Tests;

/// <summary>The queue and its processors against a real PostgreSQL: the acceptance list, one behaviour per test.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class JobQueueTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private string _db = null!;
    private JobHost _client = null!;

    private PostgresJobQueue Queue => _client.Queue;

    public async Task InitializeAsync()
    {
        _db = await infrastructure.CreateDatabaseAsync("jobs");
        // A host that only enqueues and reads (no processor), like the API.
        _client = await JobHost.StartAsync(_db, _ => { }, process: false);
    }

    public async Task DisposeAsync() => await _client.DisposeAsync();

    [Fact]
    public async Task No_job_runs_twice_at_once_across_many_concurrent_processors()
    {
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("many");
        var ids = new List<long>();
        for (var i = 0; i < 300; i++)
        {
            ids.Add((await Queue.EnqueueAsync(type, new WorkPayload(DelayMs: i % 5))).Id);
        }
        var processors = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => JobHost.StartAsync(_db, TestJobTypes.Work(log, type),
            new() { ["Jobs:Concurrency"] = "8", ["Jobs:FetchBatchSize"] = "5" })));
        try
        {
            await Eventually.ReturnsAsync(() => CountAsync(type, JobState.Completed), n => n == ids.Count, Patience, "all jobs completed");
        }
        finally
        {
            await Task.WhenAll(processors.Select(p => p.DisposeAsync().AsTask()));
        }
        Assert.Equal(0, log.Overlaps);
        Assert.Equal(ids.Count, log.Executions.Count);
        Assert.All(ids, id => Assert.Equal(1, log.Executions[id]));
        // Work really was spread over the processors.
        var owners = await ScalarAsync<long>("SELECT count(DISTINCT lease_owner) FROM jobs.jobs WHERE type = $1", type);
        Assert.True(owners >= 2, $"only {owners} processor(s) ran jobs");
    }

    [Fact]
    public async Task A_frozen_workers_job_is_rescued_after_its_lease_expires_and_completes_exactly_once()
    {
        // Worker A takes the job and then stops heartbeating (its data source is gone: to the database it is dead)
        // while its handler is stuck. Worker B rescues the job after the lease expires and completes it. When A's
        // handler finally returns, A cannot record anything: the lease is no longer A's.
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("killed");
        var release = new TaskCompletionSource();
        var aStarted = new TaskCompletionSource();
        var a = await JobHost.StartAsync(_db, services =>
        {
            services.AddSingleton(new StuckHandler.Gate(aStarted, release.Task));
            services.AddJobHandler<WorkPayload, StuckHandler>(type);
        }, new() { ["Jobs:LeaseDuration"] = "00:00:02" });
        var job = await Queue.EnqueueAsync(type, new WorkPayload());
        await aStarted.Task.WaitAsync(Patience);
        await a.Services.GetRequiredService<NpgsqlDataSource>().DisposeAsync();

        await using (var b = await JobHost.StartAsync(_db, TestJobTypes.Work(log, type)))
        {
            var done = await Eventually.ReturnsAsync(() => Queue.GetAsync(job.Id), j => j!.State == JobState.Completed, Patience, "rescued job completed");
            Assert.Equal(2, done!.Attempt);
            Assert.Contains(done.Errors, e => e.Error.Contains("lease expired", StringComparison.Ordinal));
            Assert.Equal(b.Processor.Owner, done.LeaseOwner);
        }
        release.SetResult();
        await Task.Delay(300);
        var final = await Queue.GetAsync(job.Id);
        Assert.Equal(JobState.Completed, final!.State);
        Assert.Equal(1, log.Executions[job.Id]);
        try
        {
            await a.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
            // A's data source was disposed on purpose.
        }
    }

    [Fact]
    public async Task Writes_about_an_attempt_are_fenced_by_the_lease_owner()
    {
        var type = TestJobTypes.Unique("fence");
        var job = await Queue.EnqueueAsync(type, new WorkPayload());
        var first = Assert.Single(await Queue.FetchAsync("owner-a", [type], 10, default));
        await ExecuteAsync("UPDATE jobs.jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = $1", job.Id);
        Assert.True(await Queue.RescueExpiredAsync(default) >= 1);
        var second = Assert.Single(await Queue.FetchAsync("owner-b", [type], 10, default));
        Assert.Equal(2, second.Attempt);

        Assert.Empty(await Queue.CompleteAsync("owner-a", [new JobCompletion(first.Id, null)], default));
        Assert.Null(await Queue.FailAsync("owner-a", first.Id, "late", DateTimeOffset.UtcNow, discard: false, default));
        Assert.False(await Queue.MarkCancelledAsync("owner-a", first.Id, default));
        Assert.Equal([second.Id], await Queue.CompleteAsync("owner-b", [new JobCompletion(second.Id, "{\"ok\":true}")], default));
        Assert.Equal(JobState.Completed, (await Queue.GetAsync(job.Id))!.State);
    }

    [Fact]
    public async Task Higher_priorities_run_first()
    {
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("prio");
        var expected = new List<(JobPriority Priority, long Id)>();
        foreach (var priority in new[] { JobPriority.Batch, JobPriority.Low, JobPriority.Normal, JobPriority.High, JobPriority.Critical, JobPriority.Normal, JobPriority.Critical, JobPriority.Batch })
        {
            expected.Add((priority, (await Queue.EnqueueAsync(type, new WorkPayload(), new JobEnqueueOptions { Priority = priority })).Id));
        }
        await using (var worker = await JobHost.StartAsync(_db, TestJobTypes.Work(log, type),
            new() { ["Jobs:Concurrency"] = "1", ["Jobs:FetchBatchSize"] = "1" }))
        {
            await Eventually.ReturnsAsync(() => CountAsync(type, JobState.Completed), n => n == expected.Count, Patience, "all completed");
        }
        Assert.Equal(expected.OrderBy(e => e.Priority).ThenBy(e => e.Id).Select(e => e.Id), log.Order);
    }

    [Fact]
    public void Backoff_grows_exponentially_is_capped_and_jittered_within_bounds()
    {
        var options = new JobsOptions { BackoffBase = TimeSpan.FromSeconds(2), BackoffMax = TimeSpan.FromMinutes(1), BackoffJitter = 0.2 };
        Assert.Equal(TimeSpan.FromSeconds(2), JobProcessor.Backoff(1, options, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(4), JobProcessor.Backoff(2, options, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(16), JobProcessor.Backoff(4, options, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(1), JobProcessor.Backoff(30, options, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(3.2), JobProcessor.Backoff(2, options, 0.0));
        Assert.Equal(TimeSpan.FromSeconds(4.8), JobProcessor.Backoff(2, options, 1.0));
    }

    [Fact]
    public async Task Failed_attempts_are_rescheduled_with_backoff_then_discarded_and_an_operator_retry_runs_it_again()
    {
        var log = new ExecutionLog { FailAll = true };
        var type = TestJobTypes.Unique("backoff");
        // A one-hour base makes the schedule visible; the test moves run_at to now instead of waiting.
        await using var worker = await JobHost.StartAsync(_db, TestJobTypes.Work(log, type), new()
        {
            ["Jobs:BackoffBase"] = "01:00:00", ["Jobs:BackoffMax"] = "10:00:00", ["Jobs:BackoffJitter"] = "0.2",
        });
        var job = await Queue.EnqueueAsync(type, new WorkPayload(), new JobEnqueueOptions { MaxAttempts = 3 });
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var retryable = await Eventually.ReturnsAsync(() => Queue.GetAsync(job.Id), j => j!.State == JobState.Retryable && j.Attempt == attempt,
                Patience, $"attempt {attempt} failed");
            var failedAt = retryable!.Errors[^1].At;
            var expected = TimeSpan.FromHours(Math.Pow(2, attempt - 1));
            var delay = retryable.RunAt - failedAt;
            Assert.InRange(delay, expected * 0.8 - TimeSpan.FromSeconds(1), expected * 1.2 + TimeSpan.FromSeconds(1));
            Assert.Contains("failing on purpose", retryable.Errors[^1].Error, StringComparison.Ordinal);
            await ExecuteAsync("UPDATE jobs.jobs SET run_at = now() WHERE id = $1", job.Id);
        }
        var discarded = await Eventually.ReturnsAsync(() => Queue.GetAsync(job.Id), j => j!.State == JobState.Discarded, Patience, "discarded");
        Assert.Equal(3, discarded!.Attempt);
        Assert.Equal(3, discarded.Errors.Count);
        Assert.NotNull(discarded.FinalizedAt);

        log.FailAll = false;
        Assert.Equal(RetryOutcome.Retried, await Queue.RetryAsync(job.Id));
        var completed = await Eventually.ReturnsAsync(() => Queue.GetAsync(job.Id), j => j!.State == JobState.Completed, Patience, "retried job completed");
        Assert.Equal(1, completed!.Attempt);
        Assert.Equal(3, completed.Errors.Count);
        Assert.Equal(RetryOutcome.NotRetryable, await Queue.RetryAsync(job.Id));
        Assert.Equal(RetryOutcome.NotFound, await Queue.RetryAsync(long.MaxValue));
    }

    [Fact]
    public async Task Waiting_jobs_are_cancelled_at_once_and_running_ones_through_their_token()
    {
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("cancel");
        var scheduled = await Queue.EnqueueAsync(type, new WorkPayload(), new JobEnqueueOptions { RunAt = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.Equal(JobState.Scheduled, scheduled.State);
        Assert.Equal(CancelOutcome.Cancelled, await Queue.CancelAsync(scheduled.Id));
        Assert.Equal(JobState.Cancelled, (await Queue.GetAsync(scheduled.Id))!.State);
        Assert.Equal(CancelOutcome.AlreadyFinal, await Queue.CancelAsync(scheduled.Id));
        Assert.Equal(CancelOutcome.NotFound, await Queue.CancelAsync(long.MaxValue));

        // Long heartbeats: the cancel must arrive by NOTIFY, not by the heartbeat noticing the flag.
        await using var worker = await JobHost.StartAsync(_db, TestJobTypes.Work(log, type), new() { ["Jobs:LeaseDuration"] = "00:05:00" });
        var running = await Queue.EnqueueAsync(type, new WorkPayload(DelayMs: 600_000));
        await Eventually.ReturnsAsync(() => Queue.GetAsync(running.Id), j => j!.State == JobState.Running, Patience, "running");
        Assert.Equal(CancelOutcome.CancelRequested, await Queue.CancelAsync(running.Id));
        var cancelled = await Eventually.ReturnsAsync(() => Queue.GetAsync(running.Id), j => j!.State == JobState.Cancelled, Patience, "cancelled");
        Assert.Equal(1, log.Cancellations);
        Assert.True(cancelled!.CancelRequested);
    }

    [Fact]
    public async Task Concurrent_enqueues_with_one_unique_key_make_one_job()
    {
        var type = TestJobTypes.Unique("unique");
        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Task.Run(() =>
            Queue.EnqueueAsync(type, new WorkPayload(), new JobEnqueueOptions { UniqueKey = "report-2026-11" }))));
        Assert.Single(results.Select(r => r.Id).Distinct());
        Assert.Single(results, r => !r.Duplicate);
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM jobs.jobs WHERE type = $1", type));

        // Once that job is final, the key is free again.
        Assert.Equal(CancelOutcome.Cancelled, await Queue.CancelAsync(results[0].Id));
        var next = await Queue.EnqueueAsync(type, new WorkPayload(), new JobEnqueueOptions { UniqueKey = "report-2026-11" });
        Assert.False(next.Duplicate);
        Assert.NotEqual(results[0].Id, next.Id);
    }

    [Fact]
    public async Task A_job_enqueued_in_a_rolled_back_transaction_does_not_exist_and_a_committed_one_does()
    {
        var type = TestJobTypes.Unique("tx");
        var dataSource = _client.Services.GetRequiredService<NpgsqlDataSource>();
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await Queue.EnqueueAsync(type, new WorkPayload(), null, transaction);
            await transaction.RollbackAsync();
        }
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM jobs.jobs WHERE type = $1", type));

        long committed;
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            committed = (await Queue.EnqueueAsync(type, new WorkPayload(), null, transaction)).Id;
            await transaction.CommitAsync();
        }
        Assert.Equal(JobState.Available, (await Queue.GetAsync(committed))!.State);

        // The same through EF Core: the DbContext's transaction is an NpgsqlTransaction.
        var options = new DbContextOptionsBuilder<WorkforceDbContext>().UseNpgsql(dataSource).Options;
        await using (var db = new WorkforceDbContext(options))
        {
            await using var transaction = await db.Database.BeginTransactionAsync();
            await Queue.EnqueueAsync(type + "-ef", new WorkPayload(), null, transaction.GetDbTransaction());
            await transaction.RollbackAsync();
        }
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM jobs.jobs WHERE type = $1", type + "-ef"));
        await using (var db = new WorkforceDbContext(options))
        {
            await using var transaction = await db.Database.BeginTransactionAsync();
            await Queue.EnqueueAsync(type + "-ef", new WorkPayload(), null, transaction.GetDbTransaction());
            await transaction.CommitAsync();
        }
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM jobs.jobs WHERE type = $1", type + "-ef"));
    }

    [Fact]
    public async Task A_rate_limit_is_respected()
    {
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("rate");
        const int Jobs = 12;
        const double Rate = 5;
        for (var i = 0; i < Jobs; i++)
        {
            await Queue.EnqueueAsync(type, new WorkPayload());
        }
        await using (var worker = await JobHost.StartAsync(_db, TestJobTypes.Work(log, type), new()
        {
            [$"Jobs:Types:{type}:RatePerSecond"] = "5", [$"Jobs:Types:{type}:RateBurst"] = "1",
        }))
        {
            await Eventually.ReturnsAsync(() => CountAsync(type, JobState.Completed), n => n == Jobs, Patience, "all completed");
        }
        var starts = log.Starts.Select(s => s.At).Order().ToList();
        // After a burst of 1, a job every 1/Rate s: the span can only be shorter by scheduling noise (20 % allowed).
        var minimum = TimeSpan.FromSeconds((Jobs - 1) / Rate);
        Assert.True(starts[^1] - starts[0] >= minimum * 0.8, $"{Jobs} starts took {(starts[^1] - starts[0]).TotalSeconds:0.00} s; a rate of {Rate}/s needs ≥ {minimum.TotalSeconds:0.00} s");
        // No one-second window holds more than the rate plus the burst (one extra allowed for timer edges).
        for (var i = 0; i < starts.Count; i++)
        {
            Assert.True(starts.Count(s => s >= starts[i] && s < starts[i] + TimeSpan.FromSeconds(1)) <= Rate + 2);
        }
    }

    [Fact]
    public async Task Per_type_concurrency_limits_and_batch_handlers_are_respected()
    {
        var limited = new ExecutionLog();
        var batched = new ExecutionLog();
        var limitedType = TestJobTypes.Unique("limited");
        var batchType = TestJobTypes.Unique("batch");
        for (var i = 0; i < 20; i++)
        {
            await Queue.EnqueueAsync(limitedType, new WorkPayload(DelayMs: 50));
        }
        for (var i = 0; i < 35; i++)
        {
            await Queue.EnqueueAsync(batchType, new WorkPayload());
        }
        await using (var worker = await JobHost.StartAsync(_db, services =>
        {
            TestJobTypes.Work(limited, limitedType)(services);
            services.AddKeyedSingleton("batch", batched);
            services.AddJobBatchHandler<WorkPayload, KeyedBatchHandler>(batchType);
        }, new()
        {
            ["Jobs:Concurrency"] = "16",
            [$"Jobs:Types:{limitedType}:Concurrency"] = "2",
            [$"Jobs:Types:{batchType}:BatchSize"] = "10",
        }))
        {
            await Eventually.ReturnsAsync(() => CountAsync(limitedType, JobState.Completed), n => n == 20, Patience, "limited completed");
            await Eventually.ReturnsAsync(() => CountAsync(batchType, JobState.Completed), n => n == 35, Patience, "batched completed");
        }
        Assert.InRange(limited.MaxConcurrent, 1, 2);
        Assert.Equal(35, batched.BatchSizes.Sum());
        Assert.All(batched.BatchSizes, size => Assert.InRange(size, 1, 10));
        Assert.Contains(batched.BatchSizes, size => size > 1);
    }

    [Fact]
    public async Task An_attempt_past_its_timeout_fails_and_progress_is_persisted()
    {
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("timeout");
        await using var worker = await JobHost.StartAsync(_db, TestJobTypes.Work(log, type), new() { ["Jobs:BackoffBase"] = "01:00:00" });
        var job = await Queue.EnqueueAsync(type, new WorkPayload(DelayMs: 60_000), new JobEnqueueOptions { Timeout = TimeSpan.FromSeconds(1) });
        var running = await Eventually.ReturnsAsync(() => Queue.GetAsync(job.Id), j => j!.Progress == 50, Patience, "progress reported");
        Assert.Equal("halfway", running!.ProgressMessage);
        var failed = await Eventually.ReturnsAsync(() => Queue.GetAsync(job.Id), j => j!.State == JobState.Retryable, Patience, "timed out");
        Assert.Contains("timed out", failed!.Errors[^1].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_deletes_old_finished_jobs_only()
    {
        var log = new ExecutionLog();
        var type = TestJobTypes.Unique("old");
        var old = await Queue.EnqueueAsync(type, new WorkPayload());
        var recent = await Queue.EnqueueAsync(type, new WorkPayload());
        var waiting = await Queue.EnqueueAsync(type, new WorkPayload(), new JobEnqueueOptions { RunAt = DateTimeOffset.UtcNow.AddDays(30) });
        await Queue.CancelAsync(old.Id);
        await Queue.CancelAsync(recent.Id);
        await ExecuteAsync("UPDATE jobs.jobs SET finalized_at = now() - interval '30 days' WHERE id = $1", old.Id);
        await using (var worker = await JobHost.StartAsync(_db, services => services.AddJobRetention(TimeSpan.FromHours(1))))
        {
            var maintenance = await Queue.EnqueueAsync(JobRetentionHandler.TypeName, new JobRetentionPayload());
            var done = await Eventually.ReturnsAsync(() => Queue.GetAsync(maintenance.Id), j => j!.State == JobState.Completed, Patience, "maintenance ran");
            Assert.True(done!.Result!.Value.GetProperty("deletedDiscardedOrCancelled").GetInt64() >= 1);
            // The recurring schedule keeps the next period's run waiting.
            Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM jobs.jobs WHERE type = 'maintenance' AND state = 1 AND unique_key LIKE 'recurring:maintenance:%'"));
        }
        Assert.Null(await Queue.GetAsync(old.Id));
        Assert.NotNull(await Queue.GetAsync(recent.Id));
        Assert.NotNull(await Queue.GetAsync(waiting.Id));
        _ = log;
    }

    private Task<long> CountAsync(string type, JobState state) =>
        ScalarAsync<long>("SELECT count(*) FROM jobs.jobs WHERE type = $1 AND state = $2", type, (short)state);

    private async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = _client.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new() { Value = p });
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = _client.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new() { Value = p });
        }
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>Signals that it started, then ignores cancellation until released: a worker stuck (or dead) mid-job.</summary>
public sealed class StuckHandler(StuckHandler.Gate gate) : IJobHandler<WorkPayload>
{
    public sealed record Gate(TaskCompletionSource Started, Task Release);

    public async Task HandleAsync(JobContext<WorkPayload> job, CancellationToken cancellationToken)
    {
        gate.Started.TrySetResult();
        await gate.Release;
    }
}

public sealed class KeyedBatchHandler([FromKeyedServices("batch")] ExecutionLog log) : IJobBatchHandler<WorkPayload>
{
    public Task HandleAsync(IReadOnlyList<JobContext<WorkPayload>> jobs, CancellationToken cancellationToken) =>
        new WorkBatchHandler(log).HandleAsync(jobs, cancellationToken);
}
