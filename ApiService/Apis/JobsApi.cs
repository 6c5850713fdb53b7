using Microsoft.AspNetCore.RateLimiting;
using AspirePerf.ApiService.Http;
using AspirePerf.ApiService.OpenApi;
using System.Text.Json;
using AspirePerf.ApiService.Authentication;
using AspirePerf.Performance.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspirePerf.ApiService.Apis;

/// <summary>The job queue over HTTP: enqueue, inspect, list, cancel, retry, statistics, and download a job's file.</summary>
public static class JobsApi
{
    public const int MaxPageSize = 200;

    public static RouteGroupBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/jobs").WithTags("Jobs").RequireReaders(app).WithNoStore().RequireRateLimiting(RateLimitOptions.Reads);
        api.MapPost("/", EnqueueAsync)
            .RequireAuthorization(ApiPolicies.Writer)
            .RequireRateLimiting(RateLimitOptions.Writes)
            .WithAudit()
            .WithName("EnqueueJob")
            .WithRequestExample("""{"type":"export","payload":{"queryId":"employment-spells","format":"csv"},"priority":"high","uniqueKey":"spells-2025"}""")
            .WithSummary("Enqueue a job: 202 with its Location; with a uniqueKey that a waiting or running job holds, 200 with that job")
            .WithDescription("type: a registered job type (GET /api/v1/jobs/types); payload: its payload object. Optional: priority " +
                "(critical, high, normal, low, batch), runAt or delaySeconds (scheduled), uniqueKey, maxAttempts, timeoutSeconds.");
        api.MapGet("/types", (JobCatalog catalog) => TypedResults.Ok<IReadOnlyList<string>>([.. catalog.Names.Order(StringComparer.Ordinal)]))
            .WithName("ListJobTypes")
            .WithSummary("The job types this API accepts");
        api.MapGet("/", ListAsync)
            .WithName("ListJobs")
            .WithSummary("Jobs, newest first, filtered by state and type; page is 1-based, pageSize 1 to 200 (default 50)");
        api.MapGet("/stats", StatisticsAsync)
            .WithName("GetJobStatistics")
            .WithSummary("Counts by state and priority; per type over the last windowSeconds (default 300): finished jobs, completed/s, wait and run p50/p95/p99 (ms)");
        api.MapGet("/{id:long}", GetAsync)
            .WithName("GetJob")
            .WithSummary("One job: state, attempts, progress, error history, result")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No job has this id (finished jobs are deleted after their retention age).");
        api.MapGet("/{id:long}/result", DownloadAsync)
            .WithName("GetJobResult")
            .WithSummary("A completed job's file (an export), streamed; or its result JSON when it wrote no file")
            .ProducesFor(StatusCodes.Status200OK, "The job's file (an export: CSV, or gzip-compressed NDJSON) as an attachment, or its result JSON when it wrote no file.",
                typeof(Stream), "text/csv", "application/gzip", "application/octet-stream")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The other form of the same 200: a job that wrote no file answers its result as JSON (any shape its type gives).
                ((Microsoft.OpenApi.OpenApiResponse)operation.Responses!["200"]).Content!["application/json"] = new() { Schema = new Microsoft.OpenApi.OpenApiSchema() };
                return Task.CompletedTask;
            })
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No job has this id.")
            .ProducesProblemFor(StatusCodes.Status409Conflict, "The job has not completed (yet): its result exists once it has.");
        api.MapDelete("/{id:long}", CancelAsync)
            .RequireAuthorization(ApiPolicies.Writer)
            .RequireRateLimiting(RateLimitOptions.Writes)
            .WithAudit()
            .WithName("CancelJob")
            .WithSummary("Cancel: a waiting job at once (200), a running one through its cancellation token (202)")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No job has this id.")
            .ProducesProblemFor(StatusCodes.Status409Conflict, "The job has already finished: only waiting or running jobs can be cancelled.");
        api.MapPost("/{id:long}/retry", RetryAsync)
            .RequireAuthorization(ApiPolicies.Operator)
            .RequireRateLimiting(RateLimitOptions.Operator)
            .WithAudit()
            .WithName("RetryJob")
            .WithSummary("Re-queue a discarded or cancelled job now, with a fresh attempt count (Operator policy)")
            .ProducesProblemFor(StatusCodes.Status404NotFound, "No job has this id.")
            .ProducesProblemFor(StatusCodes.Status409Conflict, "The job is not discarded or cancelled, or another waiting or running job holds its unique key.");
        return api;
    }

    public static async Task<Results<Accepted<JobRecord>, Ok<JobRecord>, ValidationProblem>> EnqueueAsync(
        EnqueueJobRequest request, JobCatalog catalog, PostgresJobQueue queue, IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var type = string.IsNullOrWhiteSpace(request.Type) ? null : catalog.Find(request.Type);
        if (type is null)
        {
            errors["type"] = [string.IsNullOrWhiteSpace(request.Type)
                ? "Required."
                : $"Unknown job type '{Clip(request.Type)}'. Known: {string.Join(", ", catalog.Names.Order(StringComparer.Ordinal))}."];
        }
        else if (request.Payload is not { ValueKind: JsonValueKind.Object } payload)
        {
            errors["payload"] = [$"Required: a JSON object for job type '{type.Name}'."];
        }
        else
        {
            foreach (var (key, messages) in catalog.Bind(type, payload, services).Errors)
            {
                errors[key] = messages;
            }
        }
        var priority = JobPriority.Normal;
        if (request.Priority is not null && !JobStates.TryParse(request.Priority, out priority))
        {
            errors["priority"] = ["Must be one of: critical, high, normal, low, batch."];
        }
        if (request.RunAt is not null && request.DelaySeconds is not null)
        {
            errors["runAt"] = ["Give runAt or delaySeconds, not both."];
        }
        if (request.DelaySeconds is < 0 or > 31_536_000)
        {
            errors["delaySeconds"] = ["Must be between 0 and 31536000 (a year)."];
        }
        if (request.RunAt is { } at && at > queue.Time.GetUtcNow().AddYears(1))
        {
            errors["runAt"] = ["Must be within a year from now."];
        }
        if (request.UniqueKey is { Length: 0 or > 200 })
        {
            errors["uniqueKey"] = ["Must be 1 to 200 characters."];
        }
        if (request.MaxAttempts is < 1 or > 100)
        {
            errors["maxAttempts"] = ["Must be between 1 and 100."];
        }
        if (request.TimeoutSeconds is < 1 or > 86_400)
        {
            errors["timeoutSeconds"] = ["Must be between 1 and 86400."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "Invalid job");
        }

        var enqueued = await queue.EnqueueJsonAsync(type!.Name, request.Payload!.Value.GetRawText(), new JobEnqueueOptions
        {
            Priority = priority,
            RunAt = request.RunAt ?? (request.DelaySeconds is { } delay ? queue.Time.GetUtcNow().AddSeconds(delay) : null),
            UniqueKey = request.UniqueKey,
            MaxAttempts = request.MaxAttempts,
            Timeout = request.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        }, cancellationToken: cancellationToken);
        var job = await queue.GetAsync(enqueued.Id, cancellationToken);
        return enqueued.Duplicate ? TypedResults.Ok(job!) : TypedResults.Accepted($"/api/v1/jobs/{enqueued.Id}", job!);
    }

    public static async Task<Results<Ok<JobRecord>, ProblemHttpResult>> GetAsync(long id, PostgresJobQueue queue, CancellationToken cancellationToken) =>
        await queue.GetAsync(id, cancellationToken) is { } job ? TypedResults.Ok(job) : NotFound(id);

    public static async Task<Results<Ok<JobPage>, ValidationProblem>> ListAsync(PostgresJobQueue queue, JobCatalog catalog,
        CancellationToken cancellationToken, string? state = null, string? type = null, int page = 1, int pageSize = 50)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        JobState? filter = null;
        if (state is not null)
        {
            if (JobStates.TryParse(state, out JobState parsed))
            {
                filter = parsed;
            }
            else
            {
                errors["state"] = ["Must be one of: available, scheduled, running, retryable, completed, discarded, cancelled."];
            }
        }
        if (type is not null && catalog.Find(type) is null)
        {
            errors["type"] = [$"Unknown job type '{Clip(type)}'."];
        }
        if (page < 1)
        {
            errors["page"] = ["Must be at least 1."];
        }
        if (pageSize is < 1 or > MaxPageSize)
        {
            errors["pageSize"] = [$"Must be between 1 and {MaxPageSize}."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "Invalid job listing");
        }
        return TypedResults.Ok(await queue.ListAsync(filter, type, page, pageSize, cancellationToken));
    }

    public static async Task<Results<Ok<JobStatistics>, ValidationProblem>> StatisticsAsync(PostgresJobQueue queue, CancellationToken cancellationToken,
        int windowSeconds = 300)
    {
        if (windowSeconds is < 1 or > 86_400)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["windowSeconds"] = ["Must be between 1 and 86400."] });
        }
        return TypedResults.Ok(await queue.StatisticsAsync(TimeSpan.FromSeconds(windowSeconds), cancellationToken));
    }

    public static async Task<Results<Ok<JobRecord>, Accepted<JobRecord>, ProblemHttpResult>> CancelAsync(long id, PostgresJobQueue queue,
        CancellationToken cancellationToken)
    {
        var outcome = await queue.CancelAsync(id, cancellationToken);
        if (outcome == CancelOutcome.NotFound)
        {
            return NotFound(id);
        }
        var job = (await queue.GetAsync(id, cancellationToken))!;
        return outcome switch
        {
            CancelOutcome.Cancelled => TypedResults.Ok(job),
            CancelOutcome.CancelRequested => TypedResults.Accepted($"/api/v1/jobs/{id}", job),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Job already finished",
                detail: $"Job {id} is {JobStates.Name(job.State)}; only waiting or running jobs can be cancelled."),
        };
    }

    public static async Task<Results<Accepted<JobRecord>, ProblemHttpResult>> RetryAsync(long id, PostgresJobQueue queue, CancellationToken cancellationToken)
    {
        var outcome = await queue.RetryAsync(id, cancellationToken);
        if (outcome == RetryOutcome.NotFound)
        {
            return NotFound(id);
        }
        var job = (await queue.GetAsync(id, cancellationToken))!;
        return outcome switch
        {
            RetryOutcome.Retried => TypedResults.Accepted($"/api/v1/jobs/{id}", job),
            RetryOutcome.UniqueKeyTaken => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Unique key taken",
                detail: $"Another waiting or running job holds the unique key '{job.UniqueKey}'."),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Job not retryable",
                detail: $"Job {id} is {JobStates.Name(job.State)}; only discarded or cancelled jobs can be retried."),
        };
    }

    public static async Task<Results<PushStreamHttpResult, Ok<JsonElement?>, ProblemHttpResult>> DownloadAsync(long id, PostgresJobQueue queue,
        PostgresJobFileStore files, CancellationToken cancellationToken)
    {
        if (await queue.GetAsync(id, cancellationToken) is not { } job)
        {
            return NotFound(id);
        }
        if (job.State != JobState.Completed)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "No result yet",
                detail: $"Job {id} is {JobStates.Name(job.State)} ({job.Progress}%); its result exists once it is completed.");
        }
        if (!await files.ExistsAsync(id, cancellationToken))
        {
            return TypedResults.Ok(job.Result);
        }
        var contentType = ResultString(job, "contentType") ?? "application/octet-stream";
        var fileName = ResultString(job, "fileName") ?? $"job-{id}";
        return TypedResults.Stream(stream => files.CopyToAsync(id, stream, cancellationToken), contentType, fileName);
    }

    private static string? ResultString(JobRecord job, string property) =>
        job.Result is { ValueKind: JsonValueKind.Object } result && result.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static ProblemHttpResult NotFound(long id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown job", detail: $"No job has the id {id} (finished jobs are deleted after their retention age).");

    private static string Clip(string text) => text.Length > 80 ? text[..80] + "…" : text;
}

/// <summary>POST /api/v1/jobs. Priority is a name (critical, high, normal, low, batch), validated with the rest.</summary>
public sealed record EnqueueJobRequest(
    string? Type,
    JsonElement? Payload,
    string? Priority = null,
    DateTimeOffset? RunAt = null,
    int? DelaySeconds = null,
    string? UniqueKey = null,
    int? MaxAttempts = null,
    int? TimeoutSeconds = null);
