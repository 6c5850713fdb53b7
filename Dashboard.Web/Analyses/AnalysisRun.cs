using System.Globalization;
using System.Text.RegularExpressions;
using AspirePerf.ApiClient.Models;
using Microsoft.Kiota.Abstractions.Serialization;

namespace AspirePerf.Dashboard.Web.Analyses;

/// <summary>How a step stands as the console sees it.</summary>
public enum StepState
{
    Waiting,
    Running,
    Completed,
    Failed,
    Skipped,
    TimedOut,
    Cancelled,
}

/// <summary>One step of a run on the page: the graph's node, then what the job's progress and its report say.</summary>
public sealed class StepView(AnalysisStepDescriptor step)
{
    public string Id { get; } = step.Id ?? "";
    public string Title { get; } = step.Title ?? step.Id ?? "";
    public string Kind { get; } = step.Kind ?? "";
    public string? QueryId { get; } = step.QueryId;
    public IReadOnlyList<string> DependsOn { get; } = step.DependsOn ?? [];
    public StepState State { get; internal set; }
    /// <summary>Milliseconds from the analysis's start; approximate (seen by polling) until the report gives the exact ones.</summary>
    public double? StartedMs { get; internal set; }
    public double? ElapsedMs { get; internal set; }
    public bool Exact { get; internal set; }
    public string? Cache { get; internal set; }
    public string? Error { get; internal set; }
    public int? RowCount { get; internal set; }

    public bool Ended => State is not (StepState.Waiting or StepState.Running);

    public static string Name(StepState state) => state switch
    {
        StepState.TimedOut => "timed-out",
        _ => state.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// One run of an analysis as an <c>analysis</c> job, as this circuit watches it. The job says after every step which step
/// ended and how (<c>"3 of 7 steps: wages succeeded"</c>, persisted at most every Jobs:ProgressInterval, so a poll can
/// miss one): a step is known ended when its message was seen or a step that depends on it ended; it is running once
/// everything it depends on succeeded. The job's result, the analysis report, then gives every step's exact status,
/// start, time and cache outcome.
/// </summary>
public sealed partial class AnalysisRun
{
    private DateTimeOffset? _runningSince;

    public AnalysisRun(AnalysisDescriptor analysis, long jobId, string mode, bool bypassCache, IReadOnlyDictionary<string, string> parameters,
        DateTimeOffset enqueuedAt)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        AnalysisId = analysis.Id ?? "";
        Title = analysis.Title ?? AnalysisId;
        JobId = jobId;
        Mode = mode;
        BypassCache = bypassCache;
        Parameters = parameters;
        EnqueuedAt = enqueuedAt;
        Steps = [.. (analysis.Steps ?? []).Select(s => new StepView(s))];
    }

    public string AnalysisId { get; }
    public string Title { get; }
    public long JobId { get; }
    public string Mode { get; }
    public bool BypassCache { get; }
    public IReadOnlyDictionary<string, string> Parameters { get; }
    public DateTimeOffset EnqueuedAt { get; }
    public IReadOnlyList<StepView> Steps { get; }
    public string JobState { get; private set; } = "available";
    public string? ProgressMessage { get; private set; }
    public int Progress { get; private set; }
    public AnalysisReport? Report { get; private set; }
    public string? Error { get; private set; }
    public DateTimeOffset? FinishedAt { get; private set; }

    public bool Finished => JobState is "completed" or "discarded" or "cancelled" or "gone";

    /// <summary>complete, partial or failed from the report; else the job's state (waiting, running, discarded…).</summary>
    public string Outcome => Report?.Status?.ToString().ToLowerInvariant() ?? JobState switch
    {
        "available" or "scheduled" or "retryable" => "queued",
        var state => state,
    };

    /// <summary>The waterfall's scale: the report's wall time, or the time seen so far.</summary>
    public double SpanMs => Report?.ElapsedMs ?? Math.Max(1, Steps.Max(s => (s.StartedMs ?? 0) + (s.ElapsedMs ?? 0)));

    public async Task ObserveAsync(JobRecord job, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        JobState = job.State?.ToString().ToLowerInvariant() ?? JobState;
        ProgressMessage = job.ProgressMessage;
        Progress = job.Progress ?? Progress;
        if (JobState == "running")
        {
            _runningSince ??= now;
            Infer(job.ProgressMessage, (now - _runningSince.Value).TotalMilliseconds);
        }
        else if (JobState == "completed")
        {
            if (await ParseAsync(job.Result, cancellationToken) is { } report)
            {
                Apply(report);
            }
            else
            {
                Error = "The job completed without an analysis report as its result.";
            }
            FinishedAt ??= now;
        }
        else if (JobState is "discarded" or "cancelled")
        {
            Error = job.Errors is { Count: > 0 } errors ? errors[^1].Error : $"The job was {JobState}.";
            foreach (var step in Steps.Where(s => !s.Ended))
            {
                step.State = StepState.Cancelled;
            }
            FinishedAt ??= now;
        }
    }

    /// <summary>The job could no longer be read (deleted, or the API is gone): stop watching.</summary>
    public void Lose(string reason, DateTimeOffset now)
    {
        Error = reason;
        JobState = "gone";
        FinishedAt ??= now;
    }

    private void Infer(string? message, double atMs)
    {
        var match = message is null ? null : ProgressLine().Match(message);
        if (match is { Success: true } && Steps.FirstOrDefault(s => s.Id == match.Groups["step"].Value) is { Ended: false } ended)
        {
            End(ended, FromReportName(match.Groups["status"].Value), atMs);
        }
        // A step whose dependent ended had succeeded (a dependent runs only after all its dependencies succeeded), even
        // when the poll missed its own message.
        foreach (var step in Steps.Where(s => s.Ended && s.State == StepState.Completed))
        {
            foreach (var dependency in Steps.Where(d => step.DependsOn.Contains(d.Id) && !d.Ended))
            {
                End(dependency, StepState.Completed, atMs);
            }
        }
        foreach (var step in Steps.Where(s => s.State == StepState.Waiting))
        {
            if (step.DependsOn.All(d => Steps.FirstOrDefault(s => s.Id == d)?.State == StepState.Completed))
            {
                step.State = StepState.Running;
                step.StartedMs = atMs;
            }
        }
        foreach (var step in Steps.Where(s => s.State == StepState.Running))
        {
            step.ElapsedMs = Math.Max(0, atMs - (step.StartedMs ?? atMs));
        }
    }

    private static void End(StepView step, StepState state, double atMs)
    {
        step.StartedMs ??= atMs;
        step.ElapsedMs = Math.Max(0, atMs - step.StartedMs.Value);
        step.State = state;
    }

    private void Apply(AnalysisReport report)
    {
        Report = report;
        foreach (var result in report.Steps ?? [])
        {
            if (Steps.FirstOrDefault(s => s.Id == result.Id) is not { } step)
            {
                continue;
            }
            step.State = FromReportName(result.Status?.ToString() ?? "");
            step.StartedMs = result.StartedMs;
            step.ElapsedMs = result.ElapsedMs;
            step.Cache = result.Cache;
            step.Error = result.Error;
            step.RowCount = result.RowCount;
            step.Exact = true;
        }
    }

    private static StepState FromReportName(string status) => status.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant() switch
    {
        "succeeded" => StepState.Completed,
        "failed" => StepState.Failed,
        "skipped" => StepState.Skipped,
        "timedout" => StepState.TimedOut,
        "cancelled" => StepState.Cancelled,
        "running" => StepState.Running,
        _ => StepState.Waiting,
    };

    // The job's result is untyped in the API's document (any job type's); an analysis job's is the report.
    private static async Task<AnalysisReport?> ParseAsync(UntypedNode? result, CancellationToken cancellationToken)
    {
        if (result is null or UntypedNull)
        {
            return null;
        }
        var json = await KiotaJsonSerializer.SerializeAsStringAsync(result, serializeOnlyChangedValues: false, cancellationToken);
        return await KiotaJsonSerializer.DeserializeAsync(json, AnalysisReport.CreateFromDiscriminatorValue, cancellationToken);
    }

    public static string Ms(double? ms) => ms is not { } value ? "—"
        : value >= 1000 ? (value / 1000).ToString("0.00", CultureInfo.InvariantCulture) + " s"
        : value.ToString(value < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " ms";

    [GeneratedRegex(@"^\d+ of \d+ steps: (?<step>\S+) (?<status>\S+)$")]
    private static partial Regex ProgressLine();
}
