using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The whole system through the real AppHost (Aspire.Hosting.Testing, PostgreSQL and Redis as executables here):
/// every resource healthy, each service's /metrics accepted by promtool, our dashboard and the Aspire dashboard driven
/// in headless Chromium, one API request's trace, PostgreSQL span included, found in the Aspire dashboard, and every
/// service's structured logs and metrics there; the operator commands on the apiservice row succeed.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class SystemEndToEndTests(SystemFixture system, ITestOutputHelper output)
{
    [Fact]
    public async Task The_apphost_brings_every_resource_to_healthy_and_both_dashboards_show_the_system()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var app = system.App;
        output.WriteLine($"All resources healthy {system.StartedIn.TotalSeconds:0.0} s after the AppHost was created (fresh cluster, seeding 20,000 spells).");
        using var api = app.CreateHttpClient("apiservice");
        using var health = await api.GetAsync(new Uri("/health", UriKind.Relative), timeout.Token);
        var healthBody = await health.Content.ReadAsStringAsync(timeout.Token);
        Assert.True(health.StatusCode == HttpStatusCode.OK, healthBody);
        Assert.Contains("PostgreSql", healthBody, StringComparison.Ordinal);
        Assert.Contains("StackExchange.Redis", healthBody, StringComparison.Ordinal);

        foreach (var service in new[] { "apiservice", "worker", "dashboard" })
        {
            using var client = app.CreateHttpClient(service);
            var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative), timeout.Token);
            var (exitCode, promtool) = await Promtool.CheckMetricsAsync(metrics);
            Assert.True(exitCode == 0, $"promtool rejected /metrics of {service}:{Environment.NewLine}{promtool}");
        }

        // Our dashboard's static assets are fingerprinted (the name changes with the content) and served immutable.
        using (var dashboardClient = app.CreateHttpClient("dashboard"))
        {
            var html = await dashboardClient.GetStringAsync(new Uri("/", UriKind.Relative), timeout.Token);
            var assets = Regex.Matches(html, "(?:href|src)=\"([^\"]+?\\.[a-z0-9]{8,}\\.(?:css|js))\"").Select(m => m.Groups[1].Value).ToList();
            Assert.Contains(assets, a => a.EndsWith(".css", StringComparison.Ordinal));
            Assert.Contains(assets, a => a.Contains("blazor.web.", StringComparison.Ordinal));
            foreach (var asset in assets)
            {
                using var response = await dashboardClient.GetAsync(new Uri("/" + asset.TrimStart('/'), UriKind.Relative), timeout.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.True(response.Headers.CacheControl is { MaxAge: { } maxAge } cacheControl && maxAge >= TimeSpan.FromDays(365)
                    && cacheControl.ToString().Contains("immutable", StringComparison.Ordinal), $"{asset}: Cache-Control {response.Headers.CacheControl}");
                Assert.NotNull(response.Headers.ETag);
            }
        }

        // Streamed rows through the whole system: the NDJSON stream of a listing equals its pages, walked by cursor.
        using (var firstPage = JsonDocument.Parse(await api.GetStringAsync(new Uri("/api/v1/queries/employment-spells?from=2025-06-01&limit=200", UriKind.Relative), timeout.Token)))
        {
            var paged = firstPage.RootElement.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()).ToList();
            var cursor = firstPage.RootElement.GetProperty("nextCursor").GetString();
            while (cursor is not null)
            {
                using var next = JsonDocument.Parse(await api.GetStringAsync(new Uri($"/api/v1/queries/employment-spells?from=2025-06-01&limit=200&cursor={cursor}", UriKind.Relative), timeout.Token));
                paged.AddRange(next.RootElement.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()));
                cursor = next.RootElement.GetProperty("nextCursor").GetString();
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/queries/employment-spells/rows?from=2025-06-01", UriKind.Relative));
            request.Headers.Accept.ParseAdd("application/x-ndjson");
            using var stream = await api.SendAsync(request, timeout.Token);
            var streamed = (await stream.Content.ReadAsStringAsync(timeout.Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("spell_id").GetInt64()).ToList();
            Assert.True(paged.Count > 200, $"{paged.Count} rows");
            Assert.Equal(paged, streamed);
        }

        // One request that queries PostgreSQL (a cache miss on a fresh system); its trace id comes back in X-Trace-Id.
        using var query = await api.GetAsync(new Uri("/api/v1/queries/wage-percentiles?asOf=2024-12-31&sector=FIN", UriKind.Relative), timeout.Token);
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        var traceId = Assert.Single(query.Headers.GetValues("X-Trace-Id"));

        // The Aspire dashboard's operator commands call the API with the AppHost's operator key.
        foreach (var command in new[] { "index-advice", "cache-warm", "invalidate-cache" })
        {
            var result = await app.ResourceCommands.ExecuteCommandAsync("apiservice", command, timeout.Token);
            output.WriteLine($"command {command}: {result.Message} {result.Data?.Value?[..Math.Min(300, result.Data.Value.Length)]}");
            Assert.True(result.Success, $"command {command} failed: {result.Message} {result.Data?.Value}");
        }

        var page = await system.NewPageAsync();

        var ourDashboard = app.GetEndpoint("dashboard", "http");
        await OperatorDashboardPage.AssertShowsEveryResourceHealthyAsync(page, ourDashboard, TestDirectories.TestResults, output);
        await QueryExplorerPage.AssertRunsAQueryAndShowsFieldErrorsAsync(page, ourDashboard.Port, TestDirectories.TestResults, output);

        await ApiReferencePage.AssertRendersWithinItsContentSecurityPolicyAsync(page, app.GetEndpoint("apiservice", "http"), TestDirectories.TestResults, output);
        // The AppHost's operator key (the same the Aspire dashboard's commands send), as an operator would paste it.
        await ApiReferencePage.AssertCallsAnOperatorEndpointWithAKeyAsync(page, system.OperatorKey, TestDirectories.TestResults, output);

        var aspireDashboard = app.GetEndpoint("aspire-dashboard", "http");
        await AspireDashboardPage.AssertListsResourcesAsync(page, aspireDashboard, ["postgres", "cache", "worker", "apiservice", "dashboard"], TestDirectories.TestResults, output);
        await AspireDashboardPage.AssertShowsTraceWithDatabaseSpanAsync(page, aspireDashboard, traceId, TestDirectories.TestResults, output);
        await AspireDashboardPage.AssertReceivesLogsAndMetricsAsync(page, aspireDashboard, ["apiservice", "worker", "dashboard"], TestDirectories.TestResults, output);
    }
}
