using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// Limits per route class and caller: a burst over a tiny limit gets 429 problems with Retry-After; two API instances
/// on one Redis share the count; with Redis gone the limit holds per instance and nothing fails.
/// </summary>
[Collection(RedisOutageCollection.Name)]
public sealed class RateLimitTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string ReaderKey = "dev-reader-key-not-for-production";
    private string _database = "";

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync("ratelimits", scale: 2_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private ApiFactory Api(string redis, string prefix) => new(_database, redis, settings: new()
    {
        ["RateLimits:KeyPrefix"] = prefix,
        ["RateLimits:Policies:perf:PermitLimit"] = "3",
        ["RateLimits:Policies:perf:WindowSeconds"] = "60",
        ["RateLimits:Policies:reads:PermitLimit"] = "4",
        ["RateLimits:Policies:reads:WindowSeconds"] = "60",
    });

    private static async Task<HttpStatusCode[]> BurstAsync(HttpClient client, string path, int count)
    {
        var statuses = new HttpStatusCode[count];
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync(path);
            statuses[i] = response.StatusCode;
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(int.Parse(Assert.Single(response.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture) is >= 1 and <= 60);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
                Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
            }
        }
        return statuses;
    }

    [Fact]
    public async Task A_burst_over_a_tiny_limit_gets_429_with_retry_after_per_route_class_and_caller()
    {
        await using var api = Api(infrastructure.Redis.ConnectionString, "t" + Guid.NewGuid().ToString("N"));
        using var anonymous = api.CreateClient();
        using var reader = api.CreateClient();
        reader.DefaultRequestHeaders.Add("X-Api-Key", ReaderKey);

        // perf: 3 per minute per caller, counted in Redis.
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 3), HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            await BurstAsync(anonymous, "/api/v1/perf/cache", 5));
        // Another caller (a key) has its own count; another route class too (reads: 4, per instance).
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 3), HttpStatusCode.TooManyRequests], await BurstAsync(reader, "/api/v1/perf/cache", 4));
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 4), HttpStatusCode.TooManyRequests], await BurstAsync(anonymous, "/api/v1/queries", 5));
        // The benchmarks' ceiling and health have no limit.
        Assert.All(await BurstAsync(anonymous, "/api/v1/system/constant?bytes=64", 10), s => Assert.Equal(HttpStatusCode.OK, s));
    }

    [Fact]
    public async Task Two_instances_on_one_redis_share_the_limit()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N");
        await using var first = Api(infrastructure.Redis.ConnectionString, prefix);
        await using var second = Api(infrastructure.Redis.ConnectionString, prefix);
        using var a = first.CreateClient();
        using var b = second.CreateClient();

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], await BurstAsync(a, "/api/v1/perf/cache", 2));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests], await BurstAsync(b, "/api/v1/perf/cache", 2));
        Assert.Equal([HttpStatusCode.TooManyRequests], await BurstAsync(a, "/api/v1/perf/cache", 1));
    }

    [Fact]
    public async Task With_redis_down_the_limit_holds_per_instance_and_nothing_fails()
    {
        await using var redis = await RedisServer.StartAsync(TestServers.RedisOptions(Path.Combine(infrastructure.RootDirectory, "redis-ratelimit")), infrastructure.Log);
        await using var api = Api(redis.ConnectionString, "t" + Guid.NewGuid().ToString("N"));
        using var client = api.CreateClient();
        Assert.Equal([HttpStatusCode.OK], await BurstAsync(client, "/api/v1/perf/cache", 1));

        await redis.StopAsync();

        // The instance's own count of the same limit takes over: three more, then refusals; never a 5xx.
        var during = await BurstAsync(client, "/api/v1/perf/cache", 5);
        Assert.DoesNotContain(during, s => (int)s >= 500);
        Assert.Equal(3, during.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.TooManyRequests, during[^1]);
        // After the first failures the instance stops asking Redis (each ask waited out the client's timeout).
        Assert.Equal(Polly.CircuitBreaker.CircuitState.Open, api.Services.GetRequiredService<AspirePerf.ApiService.Http.RateLimitRedisBreaker>().State);
    }
}
