using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
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

public sealed record ExportResult(string QueryId, ExportFormat Format, string ContentType, string FileName, int Rows, bool Truncated);

/// <summary>
/// Runs a registered query through the query executor (read-only transaction, statement timeout, row cap) and writes
/// the rows to the job's file in the queue's file store, reporting progress by rows written.
/// </summary>
public sealed class ExportJobHandler(QueryRegistry registry, QueryExecutor executor, PostgresJobFileStore files) : IJobHandler<ExportJob>
{
    private const int ProgressEveryRows = 500;

    public async Task HandleAsync(JobContext<ExportJob> job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var (query, parameters, errors) = ExportJob.Bind(job.Payload, registry);
        if (query is null || parameters is null)
        {
            throw new JobDiscardException("Invalid export: " + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        }
        await job.ReportProgressAsync(0, "running the query", cancellationToken);
        var result = await executor.ExecuteAsync(query, parameters, cancellationToken);

        var format = job.Payload.Format;
        await using (var file = await files.OpenWriteAsync(job.Id, cancellationToken))
        {
            Stream target = format == ExportFormat.NdjsonGzip ? new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true) : file;
            await using (var writer = new StreamWriter(target, new UTF8Encoding(false), 64 * 1024, leaveOpen: true))
            {
                if (format == ExportFormat.Csv)
                {
                    await writer.WriteLineAsync(string.Join(',', result.Columns.Select(c => Csv(c.Name))));
                }
                for (var i = 0; i < result.Rows.Count; i++)
                {
                    var row = result.Rows[i];
                    await writer.WriteLineAsync(format == ExportFormat.Csv ? CsvRow(row) : JsonRow(result.Columns, row));
                    if ((i + 1) % ProgressEveryRows == 0)
                    {
                        await job.ReportProgressAsync((int)((i + 1) * 100L / result.Rows.Count), $"{i + 1:N0} of {result.Rows.Count:N0} rows", cancellationToken);
                    }
                }
            }
            if (target != file)
            {
                await target.DisposeAsync();
            }
        }
        await job.ReportProgressAsync(100, $"{result.Rows.Count:N0} rows", cancellationToken);
        job.Result = new ExportResult(query.Id, format, ContentType(format), FileName(query.Id, job.Id, format), result.RowCount, result.Truncated);
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

    private static string CsvRow(object?[] row) => string.Join(',', row.Select(v => Csv(Format(v))));

    private static string Csv(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;

    private static string JsonRow(IReadOnlyList<QueryColumn> columns, object?[] row)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            for (var i = 0; i < columns.Count; i++)
            {
                json.WritePropertyName(columns[i].Name);
                switch (row[i])
                {
                    case null: json.WriteNullValue(); break;
                    case DateOnly d: json.WriteStringValue(d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)); break;
                    case var v: JsonSerializer.Serialize(json, v, v.GetType()); break;
                }
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
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
        return services;
    }

    /// <summary>The Worker's handlers for the workload's job types (cache-warm needs AddAdaptiveCaching too).</summary>
    public static IServiceCollection AddWorkforceJobHandlers(this IServiceCollection services)
    {
        services.AddJobHandler<ExportJob, ExportJobHandler>(ExportJob.TypeName);
        services.AddJobHandler<CacheWarmJob, CacheWarmJobHandler>(CacheWarmJob.TypeName);
        return services;
    }
}
