using System.Net.Http.Json;
using AspirePerf.Performance.Profiling;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Queries;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>Per-request SQL capture and N+1 detection; every product endpoint is checked to issue no N+1.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class RequestProfilingTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(RequestProfilingTests), scale: 3_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_deliberate_n_plus_one_is_detected_profiled_and_listed()
    {
        await using var factory = new NPlusOneFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();
        var profiler = factory.Services.GetRequiredService<RequestProfiler>();

        var profile = await NPlusOneAssertions.SendAndProfileAsync(client, new HttpRequestMessage(HttpMethod.Get, "/test/n-plus-one"), profiler);

        var finding = Assert.Single(profile.Findings);
        Assert.Equal(10, finding.Count);
        Assert.Equal("/test/n-plus-one", finding.Route);
        Assert.Equal("select name from employers where id = ?", finding.Sql);
        Assert.Equal(10, profile.Commands.Count(c => c.Fingerprint == finding.Fingerprint));
        var listed = await client.GetFromJsonAsync<List<NPlusOneFinding>>("/api/v1/perf/findings");
        Assert.Contains(listed!, f => f.TraceId == profile.TraceId);
        var overHttp = await client.GetFromJsonAsync<RequestProfile>($"/api/v1/perf/requests/{profile.TraceId}");
        Assert.Equal(profile.Commands.Count, overHttp!.Commands.Count);
    }

    [Fact]
    public async Task Below_the_threshold_there_is_no_finding()
    {
        await using var factory = new NPlusOneFactory(_database, infrastructure.Redis.ConnectionString, repeats: 4);
        using var client = factory.CreateClient();

        var profile = await NPlusOneAssertions.SendAndProfileAsync(client, new HttpRequestMessage(HttpMethod.Get, "/test/n-plus-one"),
            factory.Services.GetRequiredService<RequestProfiler>());

        Assert.Empty(profile.Findings);
        Assert.Equal(4, profile.Commands.Count(c => c.Sql == "select name from employers where id = ?"));
    }

    [Fact]
    public async Task No_product_endpoint_issues_n_plus_one()
    {
        // Every profile kept, cache hits and other SQL-free answers included: each endpoint's own profile is read back.
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: new() { ["Profiling:PlainRequestSampling"] = "1" });
        using var client = factory.CreateClient();
        var profiler = factory.Services.GetRequiredService<RequestProfiler>();
        var requests = new List<HttpRequestMessage>
        {
            new(HttpMethod.Get, "/api/v1/queries"),
            new(HttpMethod.Get, "/api/v1/system/resources"),
            new(HttpMethod.Get, "/api/v1/system/workload"),
            new(HttpMethod.Get, "/api/v1/system/constant?bytes=100"),
            new(HttpMethod.Get, "/api/v1/perf/cache"),
            new(HttpMethod.Get, "/api/v1/perf/statements"),
            new(HttpMethod.Get, "/api/v1/perf/findings"),
            new(HttpMethod.Get, "/openapi/v1.json"),
        };
        foreach (var query in WorkforceQueries.All)
        {
            var required = string.Join('&', query.Parameters.Where(p => p.Required).Select(p => $"{p.Name}=1"));
            requests.Add(new(HttpMethod.Get, $"/api/v1/queries/{query.Id}?{required}"));
        }
        var invalidate = new HttpRequestMessage(HttpMethod.Post, "/api/v1/perf/cache/invalidate") { Content = JsonContent.Create(new { tag = "table:employers" }) };
        invalidate.Headers.Add("X-Api-Key", OperatorKey);
        requests.Add(invalidate);

        var profiles = new List<RequestProfile>();
        foreach (var request in requests)
        {
            profiles.Add(await NPlusOneAssertions.AssertNoNPlusOneAsync(client, request, profiler));
        }

        // The capture works: the registered queries (cache misses here) show their SQL.
        Assert.All(profiles.Where(p => p.Route == "/api/v1/queries/{id}"), p => Assert.NotEmpty(p.Commands));
    }

    [Fact]
    public async Task An_operator_can_switch_profiling_off_and_on_at_run_time()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var anonymous = await client.PutAsJsonAsync("/api/v1/perf/profiling", new { enabled = false });
        await SwitchAsync(client, false);
        using var unprofiled = await client.GetAsync("/api/v1/system/constant?bytes=32");
        await SwitchAsync(client, true);
        using var profiled = await client.GetAsync("/api/v1/system/constant?bytes=32");

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.False(unprofiled.Headers.Contains(RequestProfilingMiddleware.TraceIdHeader));
        Assert.True(profiled.Headers.Contains(RequestProfilingMiddleware.TraceIdHeader));
    }

    private static async Task SwitchAsync(HttpClient client, bool enabled)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1/perf/profiling") { Content = JsonContent.Create(new { enabled }) };
        request.Headers.Add("X-Api-Key", OperatorKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The API plus GET /test/n-plus-one: one query per employer id, the classic N+1, only in this test.</summary>
    private sealed class NPlusOneFactory(string database, string cache, int repeats = 10)
        : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Development");
            builder.UseSetting("ConnectionStrings:workforce", database);
            builder.UseSetting("ConnectionStrings:cache", cache);
            builder.UseSetting("Caching:Namespace", "n1" + Guid.NewGuid().ToString("N")[..10]);
            builder.ConfigureServices(services => services.AddSingleton<IStartupFilter>(new NPlusOneEndpoint(repeats)));
        }
    }

    private sealed class NPlusOneEndpoint(int repeats) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.UseRouting();
            app.UseEndpoints(endpoints => endpoints.MapGet("/test/n-plus-one", async (NpgsqlDataSource dataSource) =>
            {
                var names = new List<string>();
                for (var id = 1; id <= repeats; id++)
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
