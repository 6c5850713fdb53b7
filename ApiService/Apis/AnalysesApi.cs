using System.Globalization;
using System.Text.Json;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Http;
using AspirePerf.ApiService.OpenApi;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Queries;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace AspirePerf.ApiService.Apis;

/// <summary>The registered analyses over HTTP: list them, run one in-process with a deadline (long ones run as <c>analysis</c> jobs).</summary>
public static class AnalysesApi
{
    public const string StatusHeader = "X-Analysis-Status";
    private const string DeadlineParameter = "deadlineMs";

    public static RouteGroupBuilder MapAnalysesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/analyses").WithTags("Analyses").RequireReaders(app).RequireRateLimiting(RateLimitOptions.Reads);
        api.MapGet("/", ListAnalyses)
            .WithName("ListAnalyses")
            .WithSummary("The registered analyses, with each parameter's schema and the step graph");
        api.MapGet("/{id}", RunAnalysisAsync)
            .WithName("RunAnalysis")
            .WithSummary("Run a registered analysis in-process, its steps in parallel as their dependencies allow")
            .WithDescription("Parameters come from the query string and are validated against the analysis's schema (400 naming each). " +
                "deadlineMs (default Orchestration:DefaultDeadline, at most Orchestration:MaxDeadline) bounds the whole run: steps still running then " +
                "are timed_out and their dependents skipped. The answer reports every step's status, timing, cache outcome and rows, and the status: " +
                "complete or partial (200, also in X-Analysis-Status) or failed (503, or 504 when the deadline or a step timeout caused it, with the report " +
                "in the problem's 'report'). A complete answer is cached (X-Cache); each query step goes through the query cache either way. " +
                "Longer analyses: POST /api/v1/jobs with type 'analysis'.")
            .Produces<AnalysisReport>(StatusCodes.Status200OK, "application/json")
            .ProducesValidationProblem()
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No registered analysis has this id.")
            .ProducesProblemFor(StatusCodes.Status503ServiceUnavailable, "No step succeeded (the database failed them); the run's report is in the problem's `report`.")
            .ProducesProblemFor(StatusCodes.Status504GatewayTimeout, "No step succeeded and the deadline or a step timeout caused it; the report is in `report`.");
        return api;
    }

    public static Ok<IReadOnlyList<AnalysisDescriptor>> ListAnalyses(AnalysisRegistry analyses) =>
        TypedResults.Ok<IReadOnlyList<AnalysisDescriptor>>([.. analyses.All.Select(AnalysisDescriptor.From)]);

    public static async Task<IResult> RunAnalysisAsync(
        string id,
        HttpContext context,
        AnalysisRegistry analyses,
        AnalysisRunner runner,
        IQueryStepRunner steps,
        QueryRegistry queries,
        AdaptiveCache cache,
        IOptions<OrchestrationOptions> options,
        IOptions<JsonOptions> json,
        CancellationToken cancellationToken)
    {
        if (analyses.Find(id) is not { } analysis)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown analysis",
                detail: $"No registered analysis has the id '{(id.Length > 80 ? id[..80] + "…" : id)}'. GET /api/v1/analyses lists them.");
        }
        var settings = options.Value;
        var raw = context.Request.Query.Where(q => !q.Key.Equals(DeadlineParameter, StringComparison.OrdinalIgnoreCase))
            .Select(q => new KeyValuePair<string, IReadOnlyList<string?>>(q.Key, [.. q.Value]));
        var (parameters, errors) = AnalysisBinding.Bind(analysis, raw);
        var deadline = settings.DefaultDeadline;
        if (context.Request.Query.TryGetValue(DeadlineParameter, out var deadlineText))
        {
            var max = (long)settings.MaxDeadline.TotalMilliseconds;
            if (deadlineText.Count != 1 || !long.TryParse(deadlineText[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms < 1 || ms > max)
            {
                errors[DeadlineParameter] = [$"Must be one whole number of milliseconds from 1 to {max} (Orchestration:MaxDeadline); longer analyses run as jobs."];
            }
            else
            {
                deadline = TimeSpan.FromMilliseconds(ms);
            }
        }
        if (parameters is null || errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: $"Invalid parameters for analysis '{analysis.Id}'");
        }

        var serializer = json.Value.SerializerOptions;
        var request = new CacheRequest(cache.KeyFor("analysis:" + analysis.Id, parameters.Values), "aggregate", "analysis:" + analysis.Id,
            [.. analysis.Steps.Where(s => s.IsQuery).SelectMany(s => queries.Find(s.QueryId!)!.Tables).Distinct().Select(t => "table:" + t), "analysis:" + analysis.Id]);
        var recompute = context.Request.Headers.CacheControl.ToString().Contains("no-cache", StringComparison.OrdinalIgnoreCase)
            && context.User.IsInRole(ApiRoles.Operator);
        // The cache runs the analysis for every caller waiting on this key; it is cancelled with this caller's request
        // (the waiting callers then run their own).
        async Task<CachedPayload> Compute(CancellationToken _)
        {
            var startedAt = DateTimeOffset.UtcNow;
            var report = await runner.RunAsync(analysis, parameters, steps, new AnalysisRunOptions(Deadline: deadline), cancellationToken);
            if (report.Status != AnalysisStatus.Complete)
            {
                throw new AnalysisIncompleteException(report); // answered, never cached
            }
            return new CachedPayload(JsonSerializer.SerializeToUtf8Bytes(report, serializer), QueryResponseCache.JsonContentType, report.ElapsedMs, startedAt);
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var lookup = await cache.GetOrCreateAsync(request, Compute, recompute, cancellationToken);
                context.Response.Headers[QueriesApi.CacheHeader] = lookup.Outcome.ToString().ToUpperInvariant();
                context.Response.Headers[StatusHeader] = "complete";
                context.Response.Headers[QueriesApi.ExecTimeHeader] = lookup.Payload.CostText;
                context.Response.Headers.ETag = lookup.Payload.ETag;
                return TypedResults.Bytes(lookup.Payload.Body, lookup.Payload.ContentType);
            }
            catch (AnalysisIncompleteException ex)
            {
                var report = ex.Report;
                context.Response.Headers[QueriesApi.CacheHeader] = "MISS";
                context.Response.Headers[StatusHeader] = report.Status == AnalysisStatus.Partial ? "partial" : "failed";
                if (report.Status == AnalysisStatus.Partial)
                {
                    return TypedResults.Json(report, serializer);
                }
                var timedOut = report.Steps.Any(s => s.Status == StepStatus.TimedOut);
                return TypedResults.Problem(
                    statusCode: timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status503ServiceUnavailable,
                    title: "Analysis failed",
                    detail: $"No step of analysis '{analysis.Id}' succeeded: " +
                        string.Join("; ", report.Steps.Where(s => s.Status is StepStatus.Failed or StepStatus.TimedOut).Select(s => $"{s.Id}: {s.Error}")),
                    extensions: new Dictionary<string, object?> { ["report"] = report });
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && attempt == 1)
            {
                // Another caller computed this key and went away mid-run: run it for this caller.
            }
        }
    }
}

/// <summary>A run that did not complete: its report is answered, not cached.</summary>
public sealed class AnalysisIncompleteException(AnalysisReport report) : Exception($"Analysis '{report.AnalysisId}' ended {report.Status}.")
{
    public AnalysisReport Report { get; } = report;
}

public sealed record AnalysisDescriptor(
    string Id,
    string Title,
    string Description,
    IReadOnlyList<QueryParameterDescriptor> Parameters,
    IReadOnlyList<AnalysisStepDescriptor> Steps)
{
    public static AnalysisDescriptor From(AnalysisDefinition analysis) => new(analysis.Id, analysis.Title, analysis.Description,
        [.. analysis.Parameters.Select(QueryParameterDescriptor.From)],
        [.. analysis.Steps.Select(s => new AnalysisStepDescriptor(s.Id, s.Title, s.IsQuery ? "query" : "synthesis", s.QueryId, [.. s.DependsOn],
            s.Inputs.ToDictionary(i => i.Key, i => i.Value switch
            {
                ParameterInput p => $"parameter {p.Name}",
                ConstantInput c => $"constant {AnalysisGraph.Format(c.Value)}",
                UpstreamInput u => $"step {u.Step}, column {u.Column} (first row)",
                _ => "?",
            }, StringComparer.Ordinal)))]);
}

/// <param name="Inputs">Each query parameter's source: an analysis parameter, a constant, or an upstream step's column.</param>
public sealed record AnalysisStepDescriptor(string Id, string Title, string Kind, string? QueryId, IReadOnlyList<string> DependsOn,
    IReadOnlyDictionary<string, string> Inputs);
