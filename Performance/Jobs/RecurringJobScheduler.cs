using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Configuration;

namespace AspirePerf.Performance.Jobs;

/// <summary>A job enqueued once per interval (aligned to the Unix epoch), e.g. maintenance every hour.</summary>
public sealed record RecurringJob(string Type, TimeSpan Interval, object Payload)
{
    public JobPriority Priority { get; init; } = JobPriority.Low;
}

/// <summary>Per recurring job: interval override (section Jobs:Recurring:&lt;type&gt;).</summary>
public sealed class RecurringJobOptions
{
    public bool Enabled { get; set; } = true;

    public TimeSpan? Interval { get; set; }
}

/// <summary>
/// Keeps each recurring job's next run enqueued: a scheduled job at the next period boundary, under the unique key
/// <c>recurring:&lt;type&gt;:&lt;boundary&gt;</c>. Every Worker runs this; the unique key makes the others' enqueues
/// duplicates, and because the job waits (scheduled) until its boundary, no process can enqueue that period twice.
/// </summary>
public sealed partial class RecurringJobScheduler(
    PostgresJobQueue queue,
    IEnumerable<RecurringJob> jobs,
    IConfiguration configuration,
    TimeProvider time,
    ILogger<RecurringJobScheduler> logger) : BackgroundService
{
    public static string UniqueKey(string type, DateTimeOffset boundary) => $"recurring:{type}:{boundary.ToUnixTimeSeconds()}";

    public static DateTimeOffset NextBoundary(DateTimeOffset now, TimeSpan interval)
    {
        var ticks = interval.Ticks;
        var next = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / ticks * ticks + ticks;
        return DateTimeOffset.UnixEpoch.AddTicks(next);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = jobs
            .Select(j => (Job: j, Settings: configuration.GetSection($"{JobsOptions.SectionName}:Recurring:{j.Type}").Get<RecurringJobOptions>() ?? new()))
            .Where(x => x.Settings.Enabled)
            .Select(x => x.Job with { Interval = x.Settings.Interval ?? x.Job.Interval })
            .ToList();
        if (schedule.Count == 0)
        {
            return;
        }
        // The processor creates the schema; wait for it rather than race it.
        await JobSchema.MigrateAsync(queue.DataSource, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var nextWake = now + TimeSpan.FromMinutes(1);
            foreach (var job in schedule)
            {
                var boundary = NextBoundary(now, job.Interval);
                try
                {
                    await queue.EnqueueAsync(job.Type, job.Payload, new JobEnqueueOptions
                    {
                        RunAt = boundary,
                        UniqueKey = UniqueKey(job.Type, boundary),
                        Priority = job.Priority,
                    }, transaction: null, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogEnqueueFailed(ex, job.Type);
                }
                if (boundary < nextWake)
                {
                    nextWake = boundary;
                }
            }
            // Just after the boundary, so the period's job has started and the next one can be scheduled.
            await Task.Delay(nextWake - now + TimeSpan.FromSeconds(1), time, stoppingToken);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Scheduling the recurring {Type} job failed; retrying at the next check")]
    private partial void LogEnqueueFailed(Exception ex, string type);
}
