using System.Diagnostics;
using System.Net.Http.Json;
using AspirePerf.ServiceDefaults;

namespace AspirePerf.ApiService.Apis;

/// <summary>Reads the worker's <c>/health</c> report; a worker that cannot be reached is reported, not thrown.</summary>
public sealed class WorkerHealthClient(HttpClient http, ILogger<WorkerHealthClient> logger)
{
    public async Task<ResourceHealth> GetAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.GetAsync(Microsoft.Extensions.Hosting.Extensions.HealthEndpointPath, cancellationToken);
            var report = await response.Content.ReadFromJsonAsync(HealthJsonContext.Default.HealthReportDto, cancellationToken);
            var failing = report?.Checks.FirstOrDefault(c => c.Status != "Healthy");
            var description = failing is null
                ? "All checks pass."
                : $"{failing.Name}: {failing.Description ?? failing.Status}";
            return new("worker", "project", report?.Status ?? "Unhealthy", Elapsed(started), description);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException
            && !cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation(ex, "Worker health could not be read");
            return new("worker", "project", "Unhealthy", Elapsed(started), $"Unreachable: {ex.Message}");
        }
    }

    private static double Elapsed(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);
}
