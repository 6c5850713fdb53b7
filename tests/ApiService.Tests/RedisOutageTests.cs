using System.Net;
using System.Net.Http.Json;
using AspirePerf.TestSupport.Servers;
using AspirePerf.ServiceDefaults;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>Redis stopped under a running API: readiness fails naming Redis, liveness holds, and both recover unaided.</summary>
[Collection(RedisOutageCollection.Name)]
public sealed class RedisOutageTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        // This class stops its Redis, so it gets one of its own rather than the collection's.
        _redis = await RedisServer.StartAsync(TestServers.RedisOptions(Path.Combine(infrastructure.RootDirectory, "redis-outage")), infrastructure.Log);
        var database = await infrastructure.CreateDatabaseAsync(nameof(RedisOutageTests));
        _factory = new ApiFactory(database, _redis.ConnectionString);
        _client = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Health_turns_503_naming_redis_while_alive_stays_200_and_recovers_when_redis_returns()
    {
        var before = await GetHealthAsync("/health");
        Assert.Equal(HttpStatusCode.OK, before.Status);

        await _redis.StopAsync();

        var during = await Eventually.ReturnsAsync(() => GetHealthAsync("/health"), h => h.Status == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(30), "/health turning 503 after Redis stopped");
        var redisCheck = Assert.Single(during.Report!.Checks, c => c.Name == "StackExchange.Redis");
        Assert.Equal("Unhealthy", redisCheck.Status);
        Assert.Contains(during.Report.Checks, c => c.Name == "WorkforceDbContext" && c.Status == "Healthy");
        Assert.Equal(HttpStatusCode.OK, (await GetHealthAsync("/alive")).Status);

        await _redis.StartAsync();

        var after = await Eventually.ReturnsAsync(() => GetHealthAsync("/health"), h => h.Status == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "/health returning to 200 after Redis restarted");
        Assert.Equal("Healthy", after.Report!.Status);
    }

    private async Task<HealthAnswer> GetHealthAsync(string path)
    {
        using var response = await _client.GetAsync(path);
        return new(response.StatusCode, await response.Content.ReadFromJsonAsync(HealthJsonContext.Default.HealthReportDto));
    }

    private sealed record HealthAnswer(HttpStatusCode Status, HealthReportDto? Report);
}
