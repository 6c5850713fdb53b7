using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AspirePerf.ApiClient.Models;
using HttpValidationProblemDetails = AspirePerf.ApiClient.Models.HttpValidationProblemDetails;
using ProblemDetails = AspirePerf.ApiClient.Models.ProblemDetails;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;

namespace AspirePerf.Dashboard.Web.Jobs;

/// <summary>How the Jobs page names states and writes a job's JSON (payload, result) and the API's refusals.</summary>
public static class JobText
{
    /// <summary>The longest payload or result the page renders; an analysis report can be large.</summary>
    public const int MaxJsonChars = 8_000;

    /// <summary>The state filter's choices, in the queue's order (docs/jobs.md), as the API spells them.</summary>
    public static readonly IReadOnlyList<string> States = ["available", "scheduled", "running", "retryable", "completed", "discarded", "cancelled"];

    /// <summary>Rows per page: the API allows 1 to 200, the page offers these so live keys stay few.</summary>
    public static readonly IReadOnlyList<int> PageSizes = [25, 50, 100, 200];

    public static string Name(JobState? state) => state switch
    {
        JobState.Available => "available",
        JobState.Scheduled => "scheduled",
        JobState.Running => "running",
        JobState.Retryable => "retryable",
        JobState.Completed => "completed",
        JobState.Discarded => "discarded",
        JobState.Cancelled => "cancelled",
        _ => "unknown",
    };

    public static string Name(JobPriority? priority) => priority?.ToString().ToLowerInvariant() ?? "";

    /// <summary>Waiting or running: what a cancel applies to.</summary>
    public static bool IsCancellable(JobState? state) => state is JobState.Available or JobState.Scheduled or JobState.Running or JobState.Retryable;

    /// <summary>What an operator retry applies to.</summary>
    public static bool IsRetryable(JobState? state) => state is JobState.Discarded or JobState.Cancelled;

    /// <summary>A completed job whose result names a file (an export) has something to download.</summary>
    public static bool HasFile(JobRecord job) =>
        job.State == JobState.Completed && job.Result is UntypedObject result && result.GetValue().ContainsKey("fileName");

    /// <summary>The live-feed key of one listing: every parameter of the read, so equal filters share one poll.</summary>
    public static string ListKey(string? state, string? type, int page, int pageSize) =>
        string.Create(CultureInfo.InvariantCulture, $"jobs?state={state}&type={type}&page={page}&pageSize={pageSize}");

    /// <summary>A count from the statistics' by-state map (Kiota keeps it as additional data).</summary>
    public static long Count(JobStatistics? statistics, string state) =>
        statistics?.ByState?.AdditionalData is { } counts && counts.TryGetValue(state, out var value) ? Number(value) : 0;

    private static long Number(object? value) => value switch
    {
        UntypedInteger i => i.GetValue(),
        UntypedLong l => l.GetValue(),
        UntypedDouble d => (long)d.GetValue(),
        UntypedDecimal m => (long)m.GetValue(),
        IConvertible c => c.ToInt64(CultureInfo.InvariantCulture),
        _ => 0,
    };

    /// <summary>Indented JSON of a payload or result, cut at <see cref="MaxJsonChars"/>.</summary>
    public static string Json(UntypedNode? node)
    {
        if (node is null or UntypedNull)
        {
            return "—";
        }
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Write(writer, node, 0);
        }
        var text = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        return text.Length > MaxJsonChars ? text[..MaxJsonChars] + "\n… (cut: " + text.Length.ToString("N0", CultureInfo.InvariantCulture) + " characters in all)" : text;
    }

    private static void Write(Utf8JsonWriter writer, UntypedNode? node, int depth)
    {
        // Depth is bounded by the API's own JSON limits; this guard only keeps a hostile result from recursing deep.
        if (depth > 32)
        {
            writer.WriteStringValue("…");
            return;
        }
        switch (node)
        {
            case UntypedObject o:
                writer.WriteStartObject();
                foreach (var (name, value) in o.GetValue())
                {
                    writer.WritePropertyName(name);
                    Write(writer, value, depth + 1);
                }
                writer.WriteEndObject();
                break;
            case UntypedArray a:
                writer.WriteStartArray();
                foreach (var item in a.GetValue())
                {
                    Write(writer, item, depth + 1);
                }
                writer.WriteEndArray();
                break;
            case UntypedString s: writer.WriteStringValue(s.GetValue()); break;
            case UntypedBoolean b: writer.WriteBooleanValue(b.GetValue()); break;
            case UntypedInteger i: writer.WriteNumberValue(i.GetValue()); break;
            case UntypedLong l: writer.WriteNumberValue(l.GetValue()); break;
            case UntypedDouble d: writer.WriteNumberValue(d.GetValue()); break;
            case UntypedFloat f: writer.WriteNumberValue(f.GetValue()); break;
            case UntypedDecimal m: writer.WriteNumberValue(m.GetValue()); break;
            default: writer.WriteNullValue(); break;
        }
    }
}
