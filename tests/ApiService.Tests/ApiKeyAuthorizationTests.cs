using System.Net;
using System.Security.Claims;
using AspirePerf.ApiService.Authentication;
using AspirePerf.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The Operator policy on an endpoint that exists only in this test (mapped through a startup filter), and reads
/// that are anonymous by default but can require the reader role.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ApiKeyAuthorizationTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string ReaderKey = "dev-reader-key-not-for-production";
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(ApiKeyAuthorizationTests), scale: 1_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("not-a-configured-key-at-all", HttpStatusCode.Unauthorized)]
    [InlineData(ReaderKey, HttpStatusCode.Forbidden)]
    [InlineData(OperatorKey, HttpStatusCode.OK)]
    public async Task Operator_policy_tells_401_from_403(string? key, HttpStatusCode expected)
    {
        await using var factory = new OperatorProbeFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var response = await Send(client, "/test/operator-probe", key);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("ApiKey", response.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal("dev-operator", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Reads_are_anonymous_by_default()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/api/v1/queries/employer-profile?employerId=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("wrong-key-wrong-key-wrong", HttpStatusCode.Unauthorized)]
    [InlineData(ReaderKey, HttpStatusCode.OK)]
    [InlineData(OperatorKey, HttpStatusCode.OK)]
    public async Task Reads_can_require_the_reader_role(string? key, HttpStatusCode expected)
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: new() { ["ApiKeys:RequireReaderForReads"] = "true" });
        using var client = factory.CreateClient();

        using var response = await Send(client, "/api/v1/queries/employer-profile?employerId=1", key);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Development_keys_exist_only_in_development()
    {
        await using var factory = new OperatorProbeFactory(_database, infrastructure.Redis.ConnectionString, environment: "Production");
        using var client = factory.CreateClient();

        using var response = await Send(client, "/test/operator-probe", OperatorKey);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_configured_key_shorter_than_16_characters_stops_the_host_at_start()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: new()
        {
            ["ApiKeys:Keys:5:Name"] = "short",
            ["ApiKeys:Keys:5:Key"] = "too-short",
            ["ApiKeys:Keys:5:Roles:0"] = "reader",
        });

        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        Assert.Contains("at least 16 characters", error.ToString(), StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, string url, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (key is not null)
        {
            request.Headers.Add(ApiKeyAuthenticationHandler.HeaderName, key);
        }
        return client.SendAsync(request);
    }

    private sealed class OperatorProbeFactory(string database, string cache, string environment = "Development")
        : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment(environment);
            builder.UseSetting("ConnectionStrings:workforce", database);
            builder.UseSetting("ConnectionStrings:cache", cache);
            builder.ConfigureServices(services => services.AddSingleton<IStartupFilter, OperatorProbeEndpoint>());
        }
    }

    /// <summary>Maps GET /test/operator-probe behind the product's Operator policy, after the product's own pipeline.</summary>
    private sealed class OperatorProbeEndpoint : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.UseRouting();
            app.UseAuthentication();
            app.UseAuthorization();
            app.UseEndpoints(endpoints => endpoints
                .MapGet("/test/operator-probe", (ClaimsPrincipal user) => user.Identity!.Name)
                .RequireAuthorization(ApiPolicies.Operator));
        };
    }
}
