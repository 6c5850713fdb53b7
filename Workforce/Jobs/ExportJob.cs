using System.Globalization;
using System.IO.Pipelines;
using System.IO.Compression;
using System.Text.Json.Serialization;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Analyses;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.Workforce.Jobs;

[JsonConverter(typeof(JsonStringEnumConverter<ExportFormat>))]
public enum ExportFormat
{
    /// <summary>RFC 4180 CSV with a header row, UTF-8.</summary>
    [JsonStringEnumMemberName("csv")]
    Csv,
    /// <summary>One JSON object per row, gzip-compressed.</summary>
    [JsonStringEnumMemberName("ndjson-gzip")]
    NdjsonGzip,
}

/// <summary>Payload of the <c>export</c> job: a registered query, its parameters as the query string would give them, a format.</summary>
public sealed record ExportJob(string QueryId)
{
    public const string TypeName = "export";

    public Dictionary<string, string>? Parameters { get; init; }

    public ExportFormat Format { get; init; } = ExportFormat.Csv;

    public static (QueryDefinition? Query, BoundParameters? Parameters, Dictionary<string, string[]> Errors) Bind(ExportJob job, QueryRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(registry);
        if (registry.Find(job.QueryId ?? "") is not { } query)
        {
            return (null, null, new() { ["queryId"] = [$"No registered query has the id '{job.QueryId}'. GET /api/v1/queries lists them."] });
        }
        var raw = (job.Parameters ?? []).Select(p => new KeyValuePair<string, IReadOnlyList<string?>>(p.Key, [p.Value]));
        var (parameters, errors) = QueryParameterBinder.Bind(query, raw);
        return (query, parameters, errors.ToDictionary(e => "parameters." + e.Key, e => e.Value, StringComparer.Ordinal));
    }
}

public sealed record ExportResult(string QueryId, ExportFormat Format, string ContentType, string FileName, long Rows);

/// <summary>
/// Streams a registered query's rows (read-only transaction, the streaming statement timeout, no row cap) from the
/// database cursor into the job's file in the queue's file store, chunk by chunk, reporting the rows written so far.
/// </summary>
public sealed class ExportJobHandler(QueryRegistry registry, QueryExecutor executor, PostgresJobFileStore files) : IJobHandler<ExportJob>
{
    public async Task HandleAsync(JobContext<ExportJob> job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var (query, parameters, errors) = ExportJob.Bind(job.Payload, registry);
        if (query is null || parameters is null)
        {
            throw new JobDiscardException("Invalid export: " + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        }
        await job.ReportProgressAsync(0, "running the query", cancellationToken);
        var format = job.Payload.Format;
        var estimate = await executor.EstimateRowsAsync(query, parameters, cancellationToken) ?? 0;
        long count;
        await using (var rows = await executor.StreamAsync(query, parameters, after: null, cancellationToken))
        {
            await using (var file = await files.OpenWriteAsync(job.Id, cancellationToken))
            {
                Stream target = format == ExportFormat.NdjsonGzip ? new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true) : file;
                var pipe = PipeWriter.Create(target, new StreamPipeWriterOptions(leaveOpen: true));
                // The total is known only when the cursor ends (counting first would run the query twice): progress is
                // measured against the planner's estimate, kept below 100 until the last row, and the message says so.
                count = await QueryRowWriter.WriteAsync(rows, pipe, format == ExportFormat.Csv ? RowFormat.Csv : RowFormat.Ndjson, encoder: null,
                    (written, ct) => job.ReportProgressAsync(estimate > 0 ? (int)Math.Min(99, written * 100 / estimate) : 0,
                        $"{written:N0} rows written (planner's estimate: {estimate:N0})", ct), cancellationToken);
                await pipe.CompleteAsync();
                if (target != file)
                {
                    await target.DisposeAsync();
                }
            }
            await rows.CompleteAsync(cancellationToken);
        }
        await job.ReportProgressAsync(100, $"{count:N0} rows", cancellationToken);
        job.Result = new ExportResult(query.Id, format, ContentType(format), FileName(query.Id, job.Id, format), count);
    }

    public static string ContentType(ExportFormat format) => format == ExportFormat.Csv ? "text/csv; charset=utf-8" : "application/gzip";

    public static string FileName(string queryId, long jobId, ExportFormat format) =>
        $"{queryId}-{jobId}.{(format == ExportFormat.Csv ? "csv" : "ndjson.gz")}";

    /// <summary>The CSV text of one value, as every export writes it (invariant culture, ISO dates).</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateTime dt => dt.ToString("O", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

public static class WorkforceJobTypes
{
    /// <summary>
    /// The workload's job types, for the API (validation) and the Worker (the same names and payloads). Needs the
    /// query registry (AddWorkforceQueries) for the export payload's checks.
    /// </summary>
    public static IServiceCollection AddWorkforceJobTypes(this IServiceCollection services)
    {
        services.AddJobType<ExportJob>(ExportJob.TypeName, static (job, sp) =>
        {
            var (_, _, errors) = ExportJob.Bind(job, sp.GetRequiredService<QueryRegistry>());
            return errors;
        });
        services.AddJobType<CacheWarmJob>(CacheWarmJob.TypeName, static (job, sp) => CacheWarmJob.Validate(job, sp.GetRequiredService<QueryRegistry>()));
        services.AddJobType<JobRetentionPayload>(JobRetentionHandler.TypeName);
        services.AddJobType<AnalysisJob>(AnalysisJob.TypeName, static (job, sp) => AnalysisJob.Bind(job, sp.GetRequiredService<AnalysisRegistry>()).Errors);
        services.AddJobType<AnalysisStepJob>(AnalysisStepJob.TypeName, static (job, sp) => sp.GetRequiredService<QueryRegistry>().Find(job.QueryId) is null
            ? new Dictionary<string, string[]> { ["queryId"] = [$"Unknown query '{job.QueryId}'."] }
            : null);
        return services;
    }

    /// <summary>The Worker's handlers for the workload's job types (cache-warm needs AddAdaptiveCaching too).</summary>
    public static IServiceCollection AddWorkforceJobHandlers(this IServiceCollection services)
    {
        services.AddJobHandler<ExportJob, ExportJobHandler>(ExportJob.TypeName);
        services.AddJobHandler<CacheWarmJob, CacheWarmJobHandler>(CacheWarmJob.TypeName);
        services.AddJobHandler<AnalysisJob, AnalysisJobHandler>(AnalysisJob.TypeName);
        services.AddJobHandler<AnalysisStepJob, AnalysisStepJobHandler>(AnalysisStepJob.TypeName);
        return services;
    }
}
