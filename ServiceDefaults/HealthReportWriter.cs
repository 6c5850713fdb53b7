using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspirePerf.ServiceDefaults;

/// <summary>
/// Writes a health report as JSON naming every check, so an operator (and our dashboard) can see *which*
/// dependency is down, not just that something is. The status code stays the framework's: 200 or 503.
/// </summary>
public static class HealthReportWriter
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(report);

        context.Response.ContentType = "application/json; charset=utf-8";
        // A probe must see the state now: never stored (no-store), and never reused unrevalidated by a cache that keeps it anyway.
        context.Response.Headers.CacheControl = "no-store, no-cache";
        var body = new HealthReportDto(
            report.Status.ToString(),
            Math.Round(report.TotalDuration.TotalMilliseconds, 2),
            [.. report.Entries.Select(e => new HealthCheckDto(
                e.Key,
                e.Value.Status.ToString(),
                Math.Round(e.Value.Duration.TotalMilliseconds, 2),
                e.Value.Description ?? e.Value.Exception?.Message,
                [.. e.Value.Tags]))]);
        return JsonSerializer.SerializeAsync(context.Response.Body, body, HealthJsonContext.Default.HealthReportDto, context.RequestAborted);
    }
}

public sealed record HealthReportDto(string Status, double TotalDurationMs, IReadOnlyList<HealthCheckDto> Checks);

public sealed record HealthCheckDto(string Name, string Status, double DurationMs, string? Description, IReadOnlyList<string> Tags);

[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReportDto))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
public sealed partial class HealthJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
