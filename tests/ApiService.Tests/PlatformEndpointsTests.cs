using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.ServiceDefaults;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

[Collection(InfrastructureCollection.Name)]
public sealed class PlatformEndpointsTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        var database = await infrastructure.CreateDatabaseAsync(nameof(PlatformEndpointsTests));
        _factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        _client = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Health_is_200_and_names_the_postgres_and_redis_checks()
    {
        using var response = await _client.GetAsync("/health");
        var report = await response.Content.ReadFromJsonAsync(HealthJsonContext.Default.HealthReportDto);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(report);
        Assert.Equal("Healthy", report.Status);
        Assert.Contains(report.Checks, c => c.Name == "WorkforceDbContext" && c.Status == "Healthy");
        Assert.Contains(report.Checks, c => c.Name == "StackExchange.Redis" && c.Status == "Healthy");
    }

    [Fact]
    public async Task Alive_runs_only_the_liveness_check()
    {
        using var response = await _client.GetAsync("/alive");
        var report = await response.Content.ReadFromJsonAsync(HealthJsonContext.Default.HealthReportDto);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["self"], report!.Checks.Select(c => c.Name));
    }

    [Fact]
    public async Task Metrics_is_prometheus_text_with_the_http_server_duration_histogram_and_passes_promtool()
    {
        (await _client.GetAsync("/api/v1/system/resources")).Dispose();

        var text = await Eventually.ReturnsAsync(
            () => _client.GetStringAsync("/metrics"),
            body => body.Contains("http_server_request_duration_seconds_bucket", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10),
            "the request histogram appearing in /metrics");
        var (exitCode, output) = await Promtool.CheckMetricsAsync(text);

        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.True(exitCode == 0, $"promtool check metrics failed:{Environment.NewLine}{output}");
    }

    [Fact]
    public async Task OpenApi_document_and_the_api_reference_are_served()
    {
        using var document = JsonDocument.Parse(await _client.GetStringAsync("/openapi/v1.json"));
        var reference = await _client.GetStringAsync("/scalar/v1");

        Assert.True(document.RootElement.GetProperty("paths").TryGetProperty("/api/v1/system/resources", out _));
        Assert.Contains("<html", reference, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task System_resources_reports_every_backing_resource_and_an_unreachable_worker_honestly()
    {
        var health = await _client.GetFromJsonAsync<SystemHealthDto>("/api/v1/system/resources");

        Assert.NotNull(health);
        Assert.Equal(["postgres", "cache", "apiservice", "worker"], health.Resources.Select(r => r.Name));
        Assert.All(health.Resources.Take(3), r => Assert.Equal("Healthy", r.Status));
        var worker = health.Resources[3];
        Assert.Equal("Unhealthy", worker.Status);
        Assert.StartsWith("Unreachable", worker.Description, StringComparison.Ordinal);
    }

    private sealed record SystemHealthDto(DateTimeOffset CheckedAt, IReadOnlyList<ResourceDto> Resources);

    private sealed record ResourceDto(string Name, string Kind, string Status, double DurationMs, string? Description);
}
