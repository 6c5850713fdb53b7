using System.Collections.Frozen;
using System.Text.Json;

namespace AspirePerf.Performance.Jobs;

/// <summary>A job type: its name and the payload type its payload must deserialize into.</summary>
public sealed record JobTypeRegistration(string Name, Type PayloadType)
{
    /// <summary>Rules beyond deserialization (e.g. an export's query must exist); errors keyed by payload member.</summary>
    public Func<object, IServiceProvider, IDictionary<string, string[]>?>? Validate { get; init; }
}

/// <summary>
/// The job types this process knows, by name: the API validates enqueue requests against it, the Worker dispatches
/// with it. Both register the same types (see the workload's AddWorkforceJobTypes), so they always agree.
/// </summary>
public sealed class JobCatalog
{
    public static readonly JsonSerializerOptions PayloadJson = new(JsonSerializerDefaults.Web)
    {
        // A misspelled member is a client error, not a silently ignored field.
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    private readonly FrozenDictionary<string, JobTypeRegistration> _byName;

    public JobCatalog(IEnumerable<JobTypeRegistration> registrations)
    {
        ArgumentNullException.ThrowIfNull(registrations);
        var all = registrations.ToList();
        foreach (var group in all.GroupBy(r => r.Name, StringComparer.Ordinal).Where(g => g.Select(r => r.PayloadType).Distinct().Count() > 1))
        {
            throw new InvalidOperationException($"Job type '{group.Key}' is registered with different payload types.");
        }
        _byName = all.GroupBy(r => r.Name, StringComparer.Ordinal).ToFrozenDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
    }

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public JobTypeRegistration? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Deserializes and validates a payload; errors are keyed by <c>payload</c> or <c>payload.member</c>.</summary>
#pragma warning disable CA1822 // An instance method: callers hold the catalog, and the payload options may become per-catalog.
    public (object? Payload, Dictionary<string, string[]> Errors) Bind(JobTypeRegistration type, JsonElement payload, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(type);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        object? value;
        try
        {
            value = payload.Deserialize(type.PayloadType, PayloadJson);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "payload" : "payload" + ex.Path.TrimStart('$');
            errors[where] = [$"Does not fit job type '{type.Name}': {ex.Message}"];
            return (null, errors);
        }
        if (value is null)
        {
            errors["payload"] = [$"Job type '{type.Name}' needs a payload object."];
            return (null, errors);
        }
        foreach (var (key, messages) in type.Validate?.Invoke(value, services) ?? new Dictionary<string, string[]>())
        {
            errors["payload." + key] = messages;
        }
        return (errors.Count == 0 ? value : null, errors);
    }
#pragma warning restore CA1822
}

/// <summary>Handles one job of a type. Throw to fail the attempt (retried with backoff); JobDiscardException to give up.</summary>
public interface IJobHandler<TPayload>
{
    Task HandleAsync(JobContext<TPayload> job, CancellationToken cancellationToken);
}

/// <summary>
/// Handles up to Jobs:Types:&lt;type&gt;:BatchSize jobs of one type per call. The batch succeeds or fails as a whole;
/// a failed batch's jobs are retried individually by their own attempt counts.
/// </summary>
public interface IJobBatchHandler<TPayload>
{
    Task HandleAsync(IReadOnlyList<JobContext<TPayload>> jobs, CancellationToken cancellationToken);
}

/// <summary>What a handler knows about the job it runs, and how it reports progress and a result.</summary>
public class JobContext
{
    private readonly IJobProgressSink _progress;

    internal JobContext(LeasedJob job, IJobProgressSink progress)
    {
        Job = job;
        _progress = progress;
    }

    internal LeasedJob Job { get; }

    public long Id => Job.Id;

    public string Type => Job.Type;

    public int Attempt => Job.Attempt;

    public int MaxAttempts => Job.MaxAttempts;

    public JobPriority Priority => Job.Priority;

    /// <summary>Stored as the job's result (jsonb) when the attempt completes.</summary>
    public object? Result { get; set; }

    /// <summary>Persisted at most every Jobs:ProgressInterval; the latest report always reaches the database.</summary>
    public ValueTask ReportProgressAsync(int percent, string? message = null, CancellationToken cancellationToken = default) =>
        _progress.ReportAsync(Job.Id, Math.Clamp(percent, 0, 100), message, cancellationToken);
}

public sealed class JobContext<TPayload> : JobContext
{
    internal JobContext(LeasedJob job, TPayload payload, IJobProgressSink progress) : base(job, progress) => Payload = payload;

    public TPayload Payload { get; }
}

internal interface IJobProgressSink
{
    ValueTask ReportAsync(long jobId, int percent, string? message, CancellationToken cancellationToken);
}
