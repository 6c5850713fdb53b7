using System.Net;
using System.Text.Json.Nodes;
using AspirePerf.Performance.Jobs;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// GET /api/v1/perf/dashboard over real PostgreSQL and Redis: healthy when nothing is wrong, and each provoked problem
/// (a slow endpoint, an N+1, an old waiting job, Redis stopped) shows up as its reason with its console link, always as a 200.
/// </summary>
[Collection(RedisOutageCollection.Name)]
public sealed class PerfDashboardTests(InfrastructureFixture infrastructure, Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Dashboard = "/api/v1/perf/dashboard";

    // "Healthy" must not depend on timing: on a loaded shared machine even a health check's SELECT 1 can pass the
    // slow-query threshold (200 ms) and rightly give a slow-statements warning. Tests that expect healthy raise it.
    private static Dictionary<string, string> Untimed() => new() { ["Profiling:SlowQueryThresholdMs"] = "600000" };

    [Fact]
    public async Task A_quiet_fresh_system_with_a_healthy_worker_is_healthy()
    {
        var database = await CreateDatabaseAsync("dashhealthy");
        await using var worker = await HealthyWorker.StartAsync();
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, workerPort: worker.Port, settings: Untimed());
        using var client = factory.CreateClient();

        var (status, body) = await GetAsync(client);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((string?)body["status"] == "healthy", body.ToJsonString());
        Assert.Empty(body["reasons"]!.AsArray());
        var numbers = body["numbers"]!.AsObject();
        Assert.Equal(0, numbers["jobsWaiting"]!.GetValue<long>());
        Assert.Equal(0, numbers["jobsRunning"]!.GetValue<long>());
        Assert.Null(numbers["oldestWaitingJobSeconds"]);
        Assert.Equal(0, numbers["slowStatements"]!.GetValue<int>());
        // Npgsql's pool gauges, read in process: the query data source's pool at its default size.
        Assert.Equal(100, numbers["poolMax"]!.GetValue<int>());
        Assert.NotNull(body["checkedAt"]);
        output.WriteLine(body.ToJsonString());
    }

    [Fact]
    public async Task A_slow_endpoint_and_an_n_plus_one_are_reasons_linked_to_the_endpoints_page()
    {
        var database = await CreateDatabaseAsync("dashslow");
        await using var worker = await HealthyWorker.StartAsync();
        // Every route with a request is "slow" (p95 above 0 ms): what is checked is the rule's wiring, not a timing.
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, workerPort: worker.Port, settings: new()
        {
            ["PerfDashboard:MinRequests"] = "1",
            ["PerfDashboard:SlowEndpointMs"] = "0",
            ["PerfDashboard:MaxSubjectsPerCode"] = "100",
        }, services: s => s.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter>(new NPlusOneEndpoint()));
        using var client = factory.CreateClient();
        (await client.GetAsync("/api/v1/queries/employer-profile?employerId=1")).EnsureSuccessStatusCode();
        (await client.GetAsync("/test/n-plus-one")).EnsureSuccessStatusCode();

        var (status, body) = await GetAsync(client);

        Assert.Equal(HttpStatusCode.OK, status);
        var reasons = body["reasons"]!.AsArray().Select(r => r!.AsObject()).ToList();
        var slow = Assert.Single(reasons, r => (string?)r["code"] == "endpoint-slow" && (string?)r["subject"] == "GET /api/v1/queries/{id}");
        Assert.Equal("/endpoints?route=GET%20%2Fapi%2Fv1%2Fqueries%2F%7Bid%7D", (string?)slow["link"]);
        Assert.Contains("p95", (string?)slow["detail"], StringComparison.Ordinal);
        var nPlusOne = Assert.Single(reasons, r => (string?)r["code"] == "n-plus-one");
        Assert.Equal("warning", (string?)nPlusOne["severity"]);
        Assert.StartsWith("/endpoints?route=", (string?)nPlusOne["link"], StringComparison.Ordinal);
        Assert.Contains("n-plus-one", Uri.UnescapeDataString((string)nPlusOne["link"]!), StringComparison.Ordinal);
        Assert.NotEqual("healthy", (string?)body["status"]);
        Assert.True(body["numbers"]!["requestsPerSecond"]!.GetValue<double>() > 0);
        Assert.NotNull(body["numbers"]!["p95Ms"]);
    }

    [Fact]
    public async Task A_due_job_waiting_for_twenty_minutes_is_a_critical_backlog_reason()
    {
        var database = await CreateDatabaseAsync("dashjobs");
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();
        var queue = factory.Services.GetRequiredService<PostgresJobQueue>();
        var job = await queue.EnqueueAsync("cache-warm", new { });
        // No processor drains this database; the job is made twenty minutes overdue instead of waiting that long.
        await using (var dataSource = NpgsqlDataSource.Create(database))
        await using (var command = dataSource.CreateCommand("UPDATE jobs.jobs SET run_at = now() - interval '20 minutes' WHERE id = $1"))
        {
            command.Parameters.Add(new() { Value = job.Id });
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var (status, body) = await GetAsync(client);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("critical", (string?)body["status"]);
        var backlog = Assert.Single(body["reasons"]!.AsArray(), r => (string?)r!["code"] == "job-backlog-old")!;
        Assert.Equal("critical", (string?)backlog["severity"]);
        Assert.StartsWith("/jobs", (string?)backlog["link"], StringComparison.Ordinal);
        Assert.Equal(1, body["numbers"]!["jobsWaiting"]!.GetValue<long>());
        Assert.True(body["numbers"]!["oldestWaitingJobSeconds"]!.GetValue<double>() >= 1_200 - 5);
        // No worker answers in this test: the worker's row is a critical reason too, listed with the other critical ones.
        Assert.Contains(body["reasons"]!.AsArray(), r => (string?)r!["code"] == "resource-unhealthy" && (string?)r["subject"] == "worker");
    }

    [Fact]
    public async Task Redis_stopped_is_a_critical_redis_reason_and_still_a_200()
    {
        await using var redis = await RedisServer.StartAsync(TestServers.RedisOptions(Path.Combine(infrastructure.RootDirectory, "redis-dashboard")), infrastructure.Log);
        var database = await CreateDatabaseAsync("dashredis");
        await using var worker = await HealthyWorker.StartAsync();
        await using var factory = new ApiFactory(database, redis.ConnectionString, workerPort: worker.Port, settings: Untimed());
        using var client = factory.CreateClient();
        var before = (await GetAsync(client)).Body;
        Assert.True((string?)before["status"] == "healthy", before.ToJsonString());

        await redis.StopAsync();

        var during = await Eventually.ReturnsAsync(() => GetAsync(client),
            a => a.Status != HttpStatusCode.OK || a.Body["reasons"]!.AsArray().Any(r => ((string?)r!["code"])!.StartsWith("redis-", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "a redis- reason after Redis stopped");
        Assert.Equal(HttpStatusCode.OK, during.Status);
        Assert.Equal("critical", (string?)during.Body["status"]);
        var reason = during.Body["reasons"]!.AsArray().First(r => ((string?)r!["code"])!.StartsWith("redis-", StringComparison.Ordinal))!;
        Assert.Equal("critical", (string?)reason["severity"]);
        // Critical reasons come first.
        Assert.Equal("critical", (string?)during.Body["reasons"]![0]!["severity"]);
        output.WriteLine(during.Body.ToJsonString());
    }

    private async Task<string> CreateDatabaseAsync(string name)
    {
        var database = await infrastructure.CreateSeededDatabaseAsync(name, scale: 1_000);
        await using var dataSource = NpgsqlDataSource.Create(database);
        await JobSchema.MigrateAsync(dataSource, CancellationToken.None);
        return database;
    }

    private static async Task<(HttpStatusCode Status, JsonObject Body)> GetAsync(HttpClient client)
    {
        using var response = await client.GetAsync(Dashboard);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>What the worker's /health answers when all is well: a stand-in, since no Worker runs in these tests.</summary>
    private sealed class HealthyWorker : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private HealthyWorker(WebApplication app, int port) => (_app, Port) = (app, port);

        public int Port { get; }

        public static async Task<HealthyWorker> StartAsync()
        {
            var port = FreePort.Next();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://localhost:{port}");
            var app = builder.Build();
            app.MapGet("/health", () => Results.Text("""{"status":"Healthy","totalDurationMs":0.1,"checks":[]}""", "application/json"));
            await app.StartAsync();
            return new HealthyWorker(app, port);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    /// <summary>GET /test/n-plus-one: one query per employer id, the classic N+1 (as in RequestProfilingTests).</summary>
    private sealed class NPlusOneEndpoint : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.UseRouting();
            app.UseEndpoints(endpoints => endpoints.MapGet("/test/n-plus-one", async (NpgsqlDataSource dataSource) =>
            {
                var names = new List<string>();
                for (var id = 1; id <= 10; id++)
                {
                    await using var command = dataSource.CreateCommand("SELECT name FROM employers WHERE id = $1");
                    command.Parameters.Add(new NpgsqlParameter { Value = id });
                    names.Add((string)(await command.ExecuteScalarAsync())!);
                }
                return names;
            }));
        };
    }
}
