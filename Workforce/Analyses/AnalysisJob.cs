using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.Performance.Orchestration;

namespace AspirePerf.Workforce.Analyses;

/// <summary>
/// Payload of the <c>analysis</c> job: a registered analysis with its parameters as query-string text, run in the
/// Worker with per-step progress. <see cref="Mode"/> <c>distributed</c> makes each query step a job of its own, so
/// every Worker shares the analysis; <c>in-process</c> (the default) runs its steps in the Worker that took the job.
/// </summary>
public sealed record AnalysisJob(string AnalysisId)
{
    public const string TypeName = "analysis";

    public Dictionary<string, string> Parameters { get; init; } = [];

    public string Mode { get; init; } = "in-process";

    /// <summary>Compute every step, neither reading nor writing the cache (benchmarks).</summary>
    public bool BypassCache { get; init; }

    public static (AnalysisDefinition? Analysis, BoundParameters? Parameters, Dictionary<string, string[]> Errors) Bind(AnalysisJob job, AnalysisRegistry analyses)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(analyses);
        if (analyses.Find(job.AnalysisId) is not { } analysis)
        {
            return (null, null, new() { ["analysisId"] = [$"Unknown analysis '{job.AnalysisId}'. GET /api/v1/analyses lists them."] });
        }
        var (parameters, errors) = AnalysisBinding.Bind(analysis, job.Parameters.Select(p => new KeyValuePair<string, IReadOnlyList<string?>>(p.Key, [p.Value])));
        var keyed = errors.ToDictionary(e => "parameters." + e.Key, e => e.Value);
        if (job.Mode is not ("in-process" or "distributed"))
        {
            keyed["mode"] = ["Must be in-process or distributed."];
        }
        return keyed.Count == 0 ? (analysis, parameters, keyed) : (null, null, keyed);
    }
}

public static class AnalysisBinding
{
    /// <summary>An analysis's parameters bound by the query binder's rules (types, ranges, allowed values, cross-rules).</summary>
    public static (BoundParameters? Values, Dictionary<string, string[]> Errors) Bind(AnalysisDefinition analysis,
        IEnumerable<KeyValuePair<string, IReadOnlyList<string?>>> raw)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        return QueryParameterBinder.Bind($"analysis '{analysis.Id}'", analysis.Parameters, analysis.Rules, raw);
    }
}

/// <summary>Runs an <c>analysis</c> job: progress after every step (its message names the step and how it ended); the result is the report.</summary>
public sealed class AnalysisJobHandler(AnalysisRegistry analyses, AnalysisRunner runner, IQueryStepRunner local, QueueStepRunner distributed) : IJobHandler<AnalysisJob>
{
    public async Task HandleAsync(JobContext<AnalysisJob> job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var (analysis, parameters, errors) = AnalysisJob.Bind(job.Payload, analyses);
        if (analysis is null || parameters is null)
        {
            throw new JobDiscardException(string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        }
        IQueryStepRunner steps = job.Payload.Mode == "distributed" ? distributed : local;
        await job.ReportProgressAsync(0, $"0 of {analysis.Steps.Count} steps", cancellationToken);
        var report = await runner.RunAsync(analysis, parameters, steps, new AnalysisRunOptions(job.Payload.BypassCache, Deadline: null,
            OnStepFinished: (step, ended, total) => job.ReportProgressAsync(ended * 100 / total,
                $"{ended} of {total} steps: {step.Id} {OrchestrationTelemetry.Name(step.Status)}", cancellationToken).AsTask()), cancellationToken);
        job.Result = report;
    }
}
