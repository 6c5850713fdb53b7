using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Jobs;

/// <summary>Payload of the <c>maintenance</c> job: empty; the ages come from Jobs:Retention only, so whoever may enqueue cannot purge history.</summary>
public sealed record JobRetentionPayload;

public sealed record JobRetentionResult(long DeletedCompleted, long DeletedDiscardedOrCancelled);

/// <summary>Deletes finished jobs (and their files) past their retention age, so the table does not grow without bound.</summary>
public sealed class JobRetentionHandler(PostgresJobQueue queue, IOptionsMonitor<JobsOptions> options) : IJobHandler<JobRetentionPayload>
{
    public const string TypeName = "maintenance";

    public async Task HandleAsync(JobContext<JobRetentionPayload> job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var retention = options.CurrentValue.Retention;
        var (completed, discarded) = await queue.DeleteFinishedAsync(
            retention.CompletedAge, retention.DiscardedAge,
            retention.DeleteBatchSize, cancellationToken);
        job.Result = new JobRetentionResult(completed, discarded);
    }
}
