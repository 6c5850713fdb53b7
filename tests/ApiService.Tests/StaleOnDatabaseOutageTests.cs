using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.TestSupport.Servers;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// PostgreSQL stopped under a running API: the last good answer is served (X-Cache: STALE) instead of an error, an
/// answer never computed is a 503 problem (never a 500), and the API recovers when the database returns.
/// This class stops its database server, so it starts one of its own.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class StaleOnDatabaseOutageTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private PostgresServerOptions _options = null!;
    private PostgresServer _postgres = null!;

    public async Task InitializeAsync()
    {
        _options = TestServers.PostgresOptions(Path.Combine(infrastructure.RootDirectory, "postgres-outage"));
        _postgres = await PostgresServer.StartAsync(_options, infrastructure.Log);
        await _postgres.CreateDatabaseAsync("workforce");
        await WorkforceDatabase.InitializeAsync(_postgres.ConnectionStringFor("workforce"), scale: 2_000);
    }

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    [Fact]
    public async Task The_last_good_answer_is_served_stale_while_postgres_is_down()
    {
        await using var factory = new ApiFactory(_postgres.ConnectionStringFor("workforce"), infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();
        const string url = "/api/v1/queries/workers-by-education?asOf=2024-06-30";
        using var fresh = await client.GetAsync(url);
        var body = await fresh.Content.ReadAsStringAsync();
        Assert.Equal("MISS", fresh.Headers.GetValues("X-Cache").Single());
        // Invalidated: the next request must recompute, and recomputing will fail.
        await InvalidateKeyAsync(client, fresh.Headers.GetValues("X-Cache-Key").Single());

        await _postgres.StopAsync();
        using var stale = await client.GetAsync(url);
        using var neverComputed = await client.GetAsync("/api/v1/queries/workers-by-education?asOf=2023-06-30");

        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Equal("STALE", stale.Headers.GetValues("X-Cache").Single());
        Assert.Equal(body, await stale.Content.ReadAsStringAsync());
        Assert.NotNull(stale.Headers.Age);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, neverComputed.StatusCode);
        var problem = await neverComputed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Database unavailable", problem.GetProperty("title").GetString());

        _postgres = await PostgresServer.StartAsync(_options, infrastructure.Log);
        var recovered = await Eventually.ReturnsAsync(async () =>
        {
            using var response = await client.GetAsync("/api/v1/queries/workers-by-education?asOf=2023-06-30");
            return response.StatusCode;
        }, status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "queries answering again after PostgreSQL restarted");
        Assert.Equal(HttpStatusCode.OK, recovered);
    }

    private static async Task InvalidateKeyAsync(HttpClient client, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/perf/cache/invalidate") { Content = JsonContent.Create(new { key }) };
        request.Headers.Add("X-Api-Key", OperatorKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
