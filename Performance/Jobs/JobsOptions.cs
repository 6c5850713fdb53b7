using System.ComponentModel.DataAnnotations;

namespace AspirePerf.Performance.Jobs;

/// <summary>The queue and its processors (section <c>Jobs</c>). Validated at start.</summary>
public sealed class JobsOptions : IValidatableObject
{
    public const string SectionName = "Jobs";

    /// <summary>Whether this host drains the queue (the Worker does; tests and benchmarks switch it per host).</summary>
    public bool ProcessorEnabled { get; set; } = true;

    /// <summary>Jobs (a batch call counts as one) running at once in one processor.</summary>
    [Range(1, 1000)]
    public int Concurrency { get; set; } = 16;

    /// <summary>Jobs leased per fetch at most (further capped by free slots).</summary>
    [Range(1, 1000)]
    public int FetchBatchSize { get; set; } = 100;

    /// <summary>Fallback when no notification arrives (lost, or the listener reconnecting): fetch at least this often.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a lease lasts without a heartbeat; a killed worker's jobs run again after this.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Null: a third of <see cref="LeaseDuration"/>. Also how fast a running job notices a missed cancel notification.</summary>
    public TimeSpan? HeartbeatInterval { get; set; }

    /// <summary>How often a processor looks for expired leases (any processor rescues any job).</summary>
    public TimeSpan RescueInterval { get; set; } = TimeSpan.FromSeconds(5);

    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Per attempt, unless the job or its type says otherwise.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Retry n waits BackoffBase × 2^(n−1), capped at BackoffMax, ± BackoffJitter of itself.</summary>
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromHours(1);

    [Range(0.0, 1.0)]
    public double BackoffJitter { get; set; } = 0.2;

    /// <summary>Progress is written at most this often per job (the last report is always written).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a stopping processor lets running jobs finish before cancelling them.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often queue depth (the metrics gauge) is counted.</summary>
    public TimeSpan StatisticsInterval { get; set; } = TimeSpan.FromSeconds(15);

    public RetentionOptions Retention { get; set; } = new();

    /// <summary>Per job type: concurrency and rate limits, batch size, attempts, timeout.</summary>
    public Dictionary<string, JobTypeOptions> Types { get; set; } = new(StringComparer.Ordinal);

    public TimeSpan HeartbeatEvery => HeartbeatInterval ?? LeaseDuration / 3;

    public JobTypeOptions For(string type) => Types.TryGetValue(type, out var options) ? options : JobTypeOptions.Default;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PollInterval <= TimeSpan.Zero)
        {
            yield return new("Must be positive.", [nameof(PollInterval)]);
        }
        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            yield return new("Must be at least 1 s.", [nameof(LeaseDuration)]);
        }
        if (HeartbeatEvery <= TimeSpan.Zero || HeartbeatEvery >= LeaseDuration)
        {
            yield return new("Must be positive and shorter than LeaseDuration.", [nameof(HeartbeatInterval)]);
        }
        if (RescueInterval <= TimeSpan.Zero || DefaultTimeout <= TimeSpan.Zero || ProgressInterval < TimeSpan.Zero || StatisticsInterval <= TimeSpan.Zero)
        {
            yield return new("RescueInterval, DefaultTimeout and StatisticsInterval must be positive; ProgressInterval not negative.",
                [nameof(RescueInterval), nameof(DefaultTimeout), nameof(StatisticsInterval), nameof(ProgressInterval)]);
        }
        if (BackoffBase <= TimeSpan.Zero || BackoffMax < BackoffBase)
        {
            yield return new("BackoffBase must be positive and BackoffMax at least BackoffBase.", [nameof(BackoffBase), nameof(BackoffMax)]);
        }
        foreach (var (type, options) in Types)
        {
            foreach (var error in options.Validate(type))
            {
                yield return error;
            }
        }
    }
}

public sealed class JobTypeOptions
{
    public static readonly JobTypeOptions Default = new();

    /// <summary>Jobs (or batch calls) of this type running at once in one processor; null: only the global limit.</summary>
    public int? Concurrency { get; set; }

    /// <summary>Jobs of this type started per second by one processor (token bucket); null: unlimited.</summary>
    public double? RatePerSecond { get; set; }

    /// <summary>Tokens the bucket holds (bursts); null: one second's worth, at least 1.</summary>
    public int? RateBurst { get; set; }

    /// <summary>Payloads per call for a batch handler.</summary>
    public int BatchSize { get; set; } = 100;

    public int? MaxAttempts { get; set; }

    public TimeSpan? Timeout { get; set; }

    internal IEnumerable<ValidationResult> Validate(string type)
    {
        if (Concurrency is < 1)
        {
            yield return new($"Jobs:Types:{type}:Concurrency must be at least 1.", [nameof(Concurrency)]);
        }
        if (RatePerSecond is <= 0)
        {
            yield return new($"Jobs:Types:{type}:RatePerSecond must be positive.", [nameof(RatePerSecond)]);
        }
        if (RateBurst is < 1)
        {
            yield return new($"Jobs:Types:{type}:RateBurst must be at least 1.", [nameof(RateBurst)]);
        }
        if (BatchSize is < 1 or > 10_000)
        {
            yield return new($"Jobs:Types:{type}:BatchSize must be between 1 and 10000.", [nameof(BatchSize)]);
        }
        if (MaxAttempts is < 1)
        {
            yield return new($"Jobs:Types:{type}:MaxAttempts must be at least 1.", [nameof(MaxAttempts)]);
        }
        if (Timeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            yield return new($"Jobs:Types:{type}:Timeout must be positive.", [nameof(Timeout)]);
        }
    }
}

public sealed class RetentionOptions
{
    public TimeSpan CompletedAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Discarded and cancelled jobs are kept longer: someone may want to retry them.</summary>
    public TimeSpan DiscardedAge { get; set; } = TimeSpan.FromDays(7);

    [Range(100, 1_000_000)]
    public int DeleteBatchSize { get; set; } = 10_000;
}
