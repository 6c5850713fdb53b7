using System.Text.Json;
using System.Text.Json.Serialization;

namespace AspirePerf.Performance.Jobs;

/// <summary>Fetch order: lower runs first. Stored as smallint 0..4.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobPriority>))]
public enum JobPriority : short
{
    [JsonStringEnumMemberName("critical")]
    Critical = 0,
    [JsonStringEnumMemberName("high")]
    High = 1,
    [JsonStringEnumMemberName("normal")]
    Normal = 2,
    [JsonStringEnumMemberName("low")]
    Low = 3,
    [JsonStringEnumMemberName("batch")]
    Batch = 4,
}

/// <summary>
/// available/scheduled/retryable wait (due once run_at has passed), running holds a lease, the other three are final.
/// Stored as smallint so the fetch index stays narrow.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobState>))]
public enum JobState : short
{
    [JsonStringEnumMemberName("available")]
    Available = 0,
    [JsonStringEnumMemberName("scheduled")]
    Scheduled = 1,
    [JsonStringEnumMemberName("running")]
    Running = 2,
    [JsonStringEnumMemberName("retryable")]
    Retryable = 3,
    [JsonStringEnumMemberName("completed")]
    Completed = 4,
    [JsonStringEnumMemberName("discarded")]
    Discarded = 5,
    [JsonStringEnumMemberName("cancelled")]
    Cancelled = 6,
}

public static class JobStates
{
    public static string Name(JobState state) => state.ToString().ToLowerInvariant();

    public static string Name(JobPriority priority) => priority.ToString().ToLowerInvariant();

    // Names only: Enum.TryParse alone would also take numbers and comma-separated combinations.
    public static bool TryParse(string? text, out JobState state) =>
        Enum.TryParse(text, ignoreCase: true, out state) && Enum.IsDefined(state) && IsName(text);

    public static bool TryParse(string? text, out JobPriority priority) =>
        Enum.TryParse(text, ignoreCase: true, out priority) && Enum.IsDefined(priority) && IsName(text);

    private static bool IsName(string? text) => text is { Length: > 0 } && text.All(char.IsAsciiLetter);

    public static bool IsFinal(JobState state) => state is JobState.Completed or JobState.Discarded or JobState.Cancelled;
}

/// <summary>How to enqueue one job. Everything but the payload is optional.</summary>
public sealed record JobEnqueueOptions
{
    public JobPriority Priority { get; init; } = JobPriority.Normal;

    /// <summary>Not before this time; in the future the job is <c>scheduled</c>.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>At most one non-final job per key; enqueueing a duplicate returns the existing job.</summary>
    public string? UniqueKey { get; init; }

    /// <summary>Null: the type's default (Jobs:Types:&lt;type&gt;:MaxAttempts, else Jobs:MaxAttempts).</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>Null: the type's default timeout.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>The outcome of an enqueue: the job's id and state, and whether it already existed under the unique key.</summary>
public sealed record EnqueuedJob(long Id, JobState State, bool Duplicate);

public sealed record JobError(int Attempt, DateTimeOffset At, string Error);

/// <summary>A job as stored.</summary>
public sealed record JobRecord(
    long Id,
    string Type,
    JsonElement Payload,
    JobPriority Priority,
    JobState State,
    int Attempt,
    int MaxAttempts,
    DateTimeOffset RunAt,
    string? UniqueKey,
    int Progress,
    string? ProgressMessage,
    IReadOnlyList<JobError> Errors,
    JsonElement? Result,
    bool CancelRequested,
    string? LeaseOwner,
    DateTimeOffset? LeaseExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? AttemptedAt,
    DateTimeOffset? FinalizedAt);

/// <summary>A job a processor has leased for one attempt.</summary>
public sealed record LeasedJob(
    long Id,
    string Type,
    string Payload,
    JobPriority Priority,
    int Attempt,
    int MaxAttempts,
    DateTimeOffset RunAt,
    DateTimeOffset AttemptedAt,
    TimeSpan? Timeout);

public sealed record JobPage(IReadOnlyList<JobRecord> Items, int Page, int PageSize, long Total);

public sealed record JobStatistics(
    DateTimeOffset At,
    IReadOnlyDictionary<string, long> ByState,
    IReadOnlyList<JobDepth> Depth,
    IReadOnlyList<JobTypeThroughput> LastFiveMinutes);

/// <summary>Due jobs waiting (available, scheduled or retryable with run_at passed), running ones, the oldest due one's run_at, recent discards.</summary>
public sealed record JobBacklog(long Waiting, long Running, DateTimeOffset? OldestDueAt, long Discarded);

/// <summary>Jobs in one state at one priority.</summary>
public sealed record JobDepth(string State, string Priority, long Count);

/// <summary>Finished jobs of one type in the window, with enqueue-to-start and run-time percentiles (ms).</summary>
public sealed record JobTypeThroughput(
    string Type,
    long Completed,
    long Discarded,
    double CompletedPerSecond,
    double? WaitP50Ms,
    double? WaitP95Ms,
    double? WaitP99Ms,
    double? RunP50Ms,
    double? RunP95Ms,
    double? RunP99Ms);

/// <summary>Thrown by a handler for a failure that retrying cannot fix: the job is discarded at once.</summary>
public sealed class JobDiscardException : Exception
{
    public JobDiscardException() { }

    public JobDiscardException(string message) : base(message) { }

    public JobDiscardException(string message, Exception inner) : base(message, inner) { }
}
