using System.Text.Json;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.Performance.Orchestration;

/// <summary>Payload of an <c>analysis-step</c> job: one query step, its parameters as query-string text.</summary>
public sealed record AnalysisStepJob(string QueryId, Dictionary<string, string> Inputs)
{
    public const string TypeName = "analysis-step";

    public bool BypassCache { get; init; }
}

/// <summary>An <c>analysis-step</c> job's result: the step's output as the coordinator reads it back.</summary>
public sealed record AnalysisStepJobResult(IReadOnlyList<QueryColumn> Columns, IReadOnlyList<object?[]> Rows, string Cache);

/// <summary>
/// Distributed mode: every query step becomes an <c>analysis-step</c> job on the PostgreSQL queue (fan-out), which any
/// Worker's processor runs; the coordinator (the analysis runner, unchanged) waits for each job's completion (fan-in)
/// and starts the dependents. Scheduling, limits and failure semantics are the in-process mode's: only where a query
/// runs changes. A Worker killed mid-step loses its lease and the queue runs the step again elsewhere.
/// </summary>
public sealed class QueueStepRunner(PostgresJobQueue queue, IOptions<OrchestrationOptions> options) : IQueryStepRunner
{
    /// <summary>A step job's attempts: a lost lease (killed Worker) or a dropped connection is retried, a query error is not.</summary>
    public const int MaxAttempts = 3;

    public string Mode => "distributed";

    /// <remarks>
    /// <paramref name="parallelism"/> is not passed on: the step runs in a Worker, among that process's steps, not this
    /// one's, so this process's count says nothing about the load its query meets.
    /// </remarks>
    public async Task<QueryStepResult> RunAsync(QueryDefinition query, IReadOnlyDictionary<string, string> inputs, bool bypassCache,
        QueryParallelism? parallelism, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(inputs);
        var job = await queue.EnqueueAsync(AnalysisStepJob.TypeName, new AnalysisStepJob(query.Id, new(inputs)) { BypassCache = bypassCache },
            new JobEnqueueOptions { Priority = JobPriority.High, MaxAttempts = MaxAttempts }, cancellationToken: cancellationToken);
        try
        {
            // Polled, starting fast and backing off: steps take tens of ms to seconds, and the queue has no completion event.
            var interval = options.Value.StepPollInterval;
            while (true)
            {
                await Task.Delay(interval, cancellationToken);
                var record = await queue.GetAsync(job.Id, cancellationToken);
                switch (record?.State)
                {
                    case null:
                        throw new InvalidOperationException($"Step job {job.Id} disappeared from the queue.");
                    case JobState.Completed:
                        var result = record.Result!.Value.Deserialize<AnalysisStepJobResult>(JobCatalog.PayloadJson)!;
                        return new QueryStepResult(StepOutput.From(result.Columns, result.Rows), result.Cache);
                    case JobState.Discarded or JobState.Cancelled:
                        throw new StepJobFailedException(job.Id, record.Errors.Count > 0 ? record.Errors[^1].Error : $"Step job {job.Id} was {record.State}.");
                }
                interval = TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out or abandoned: the job would only waste a Worker now.
            try
            {
                await queue.CancelAsync(job.Id, CancellationToken.None);
            }
            catch (NpgsqlException)
            {
                // The database is unreachable: the job fails or times out on its own.
            }
            throw;
        }
    }
}

/// <summary>A step job ended without a result (its query failed, or its attempts ran out).</summary>
public sealed class StepJobFailedException(long jobId, string error) : Exception(error)
{
    public long JobId { get; } = jobId;
}

/// <summary>
/// Runs an <c>analysis-step</c> job with this process's in-process step runner (so through its cache). A failure that
/// would fail again (bad inputs, a query error or timeout) discards the job at once; anything else is retried, including
/// a server error Npgsql calls transient (the session terminated by a failover or an operator, a deadlock, too many
/// connections): the same step on a new connection can succeed.
/// </summary>
public sealed class AnalysisStepJobHandler(QueryRegistry queries, IQueryStepRunner local) : IJobHandler<AnalysisStepJob>
{
    public async Task HandleAsync(JobContext<AnalysisStepJob> job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var query = queries.Find(job.Payload.QueryId) ?? throw new JobDiscardException($"Unknown query '{job.Payload.QueryId}'.");
        try
        {
            var result = await local.RunAsync(query, job.Payload.Inputs, job.Payload.BypassCache, parallelism: null, cancellationToken);
            job.Result = new AnalysisStepJobResult(result.Output.Columns, result.Output.Rows, result.Cache);
        }
        catch (Exception ex) when (ex is StepInputException or QueryTimeoutException or QueryResultTooLargeException or PostgresException { IsTransient: false })
        {
            throw new JobDiscardException(ex.Message, ex);
        }
    }
}
