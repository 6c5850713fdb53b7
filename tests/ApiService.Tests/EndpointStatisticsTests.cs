using System.Net;
using System.Net.Http.Json;
using AspirePerf.ApiService.Apis;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>Per-endpoint percentiles, the slowest ranking and insights, from real requests.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class EndpointStatisticsTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task Endpoints_report_counts_percentiles_and_sql_per_request_and_rank_by_p95()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("endpoints", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: new()
        {
            ["Profiling:SlowEndpointMs"] = "0",
        });
        using var client = factory.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            (await client.GetAsync($"/api/v1/queries/new-hires-per-month?from=2024-0{i + 1}-01")).Dispose();
            (await client.GetAsync("/api/v1/system/constant?bytes=64")).Dispose();
        }
        (await client.GetAsync("/api/v1/queries/new-hires-per-month?from=2031-01-01")).Dispose();

        var report = await client.GetFromJsonAsync<EndpointStatisticsReport>("/api/v1/perf/endpoints");
        var slowest = await client.GetFromJsonAsync<EndpointStatisticsReport>("/api/v1/perf/endpoints/slowest?limit=2");
        var insights = await client.GetFromJsonAsync<List<Insight>>("/api/v1/perf/insights");
        using var badLimit = await client.GetAsync("/api/v1/perf/endpoints/slowest?limit=0");

        Assert.Equal(60, report!.WindowSeconds);
        var queries = Assert.Single(report.Endpoints, e => e.Route == "GET /api/v1/queries/{id}");
        Assert.Equal(6, queries.Count);
        Assert.True(queries.P50Ms <= queries.P95Ms && queries.P95Ms <= queries.P99Ms && queries.P99Ms <= queries.MaxMs);
        Assert.True(queries.SqlCommandsPerRequest > 0, "cache misses ran SQL");
        Assert.Equal(0, queries.ErrorRate);
        var constant = Assert.Single(report.Endpoints, e => e.Route == "GET /api/v1/system/constant");
        Assert.Equal(0, constant.SqlCommandsPerRequest);
        Assert.Equal(2, slowest!.Endpoints.Count);
        Assert.True(slowest.Endpoints[0].P95Ms >= slowest.Endpoints[1].P95Ms);
        Assert.Contains(insights!, i => i.Kind == "slow-endpoint" && i.Subject == "GET /api/v1/queries/{id}");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }

    [Fact]
    public async Task Twenty_thousand_distinct_unknown_paths_and_invented_methods_leave_the_statistics_bounded()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("hostilepaths", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        for (var i = 0; i < 20_000; i++)
        {
            using var request = new HttpRequestMessage(i % 10 == 0 ? new HttpMethod($"X{i}") : HttpMethod.Get, $"/no/such/path/{i}?q={i}");
            using var response = await client.SendAsync(request);
            Assert.True((int)response.StatusCode is 404 or 405, $"{request.Method} {request.RequestUri}: {response.StatusCode}");
        }
        using var endpoints = await client.GetAsync("/api/v1/perf/endpoints");
        var body = await endpoints.Content.ReadAsStringAsync();
        var report = System.Text.Json.JsonSerializer.Deserialize<EndpointStatisticsReport>(body, System.Text.Json.JsonSerializerOptions.Web)!;

        var unmatched = report.Endpoints.Where(e => e.Route.EndsWith("(unmatched)", StringComparison.Ordinal)).ToList();
        Assert.InRange(unmatched.Count, 1, 2); // "GET (unmatched)" and "OTHER (unmatched)"
        Assert.Equal(20_000, unmatched.Sum(e => e.Count));
        Assert.DoesNotContain(report.Endpoints, e => e.Route.Contains("/no/such/path", StringComparison.Ordinal));
        Assert.True(body.Length < 4_096, $"/perf/endpoints answered {body.Length} bytes");
    }
}
