using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// A hostile client's bodies on every endpoint that takes one: each is a 4xx problem document (never a 500 or a
/// developer page), and the same in Development and Production.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class MalformedRequestTests(MalformedRequestTests.Hosts hosts) : IClassFixture<MalformedRequestTests.Hosts>
{
    private const string OperatorKey = "operator-key-for-malformed-body-tests";

    public static TheoryData<string, string, string, string?, int> Corpus()
    {
        var data = new TheoryData<string, string, string, string?, int>();
        string[] environments = ["Development", "Production"];
        (string Method, string Path)[] endpoints =
        [
            ("POST", "/api/v1/jobs"),
            ("POST", "/api/v1/perf/cache/invalidate"),
            ("POST", "/api/v1/perf/indexes/apply"),
            ("PUT", "/api/v1/perf/profiling"),
        ];
        (string Body, string? ContentType, int Status)[] bodies =
        [
            ("", "application/json", 400),                 // empty
            ("{\"type\": \"export\", \"pay", "application/json", 400), // truncated
            ("[1, 2, 3]", "application/json", 400),        // an array, not an object
            ("\"text\"", "application/json", 400),         // a string
            ("null", "application/json", 400),             // JSON null
            ("{\"type\": 5, \"all\": \"yes\", \"index\": [], \"enabled\": {}}", "application/json", 400), // wrong member types
            ("{\"type\": \"export\"}", "text/plain", 415),  // wrong content type
            ("{\"type\": \"export\"}", null, 415),          // no content type
            ("<xml/>", "application/xml", 415),
        ];
        foreach (var environment in environments)
        {
            foreach (var (method, path) in endpoints)
            {
                foreach (var (body, contentType, status) in bodies)
                {
                    data.Add(environment, $"{method} {path}", body, contentType, status);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Every_malformed_body_is_a_4xx_problem_in_every_environment(string environment, string endpoint, string body, string? contentType, int expectedStatus)
    {
        var client = await hosts.ClientAsync(environment);
        var (method, path) = (endpoint.Split(' ')[0], endpoint.Split(' ')[1]);
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)),
        };
        request.Content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        request.Headers.Add("X-Api-Key", OperatorKey);

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True((int)response.StatusCode == expectedStatus, $"{environment} {endpoint} with {contentType ?? "no content type"} '{body}': {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(text);
        Assert.Equal(expectedStatus, problem.RootElement.GetProperty("status").GetInt32());
        if (expectedStatus == 400)
        {
            // The detail names the body parameter the endpoint could not read.
            Assert.Contains("parameter", problem.RootElement.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>One API host per environment for the whole corpus (each request is independent of the others).</summary>
    public sealed class Hosts(InfrastructureFixture infrastructure) : IAsyncLifetime
    {
        private readonly Dictionary<string, (ApiFactory Factory, HttpClient Client)> _hosts = [];
        private readonly SemaphoreSlim _lock = new(1, 1);
        private string _database = "";

        public async Task InitializeAsync() => _database = await infrastructure.CreateSeededDatabaseAsync("malformed", scale: 2_000);

        public async Task<HttpClient> ClientAsync(string environment)
        {
            await _lock.WaitAsync();
            try
            {
                if (!_hosts.TryGetValue(environment, out var host))
                {
                    var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, environment: environment, settings: new()
                    {
                        ["ApiKeys:Keys:9:Name"] = "tests-operator",
                        ["ApiKeys:Keys:9:Key"] = OperatorKey,
                        ["ApiKeys:Keys:9:Roles:0"] = "operator",
                    });
                    host = _hosts[environment] = (factory, factory.CreateClient());
                }
                return host.Client;
            }
            finally
            {
                _lock.Release();
            }
        }

        public async Task DisposeAsync()
        {
            foreach (var (factory, client) in _hosts.Values)
            {
                client.Dispose();
                await factory.DisposeAsync();
            }
            _lock.Dispose();
        }
    }
}

/// <summary>An oversized body against the real Kestrel server (the in-memory test server enforces no body limit).</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class RequestLimitTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task A_body_over_the_configured_limit_is_a_413_problem_from_kestrel()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("requestlimits", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: new()
        {
            ["Http:Limits:MaxRequestBodyBytes"] = "4096",
        });
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = factory.CreateClient();

        var oversized = "{\"type\": \"cache-warm\", \"payload\": {\"pad\": \"" + new string('x', 10_000) + "\"}}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
        {
            Content = new StringContent(oversized, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", "dev-reader-key-not-for-production");
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(text);
        Assert.Equal(413, problem.RootElement.GetProperty("status").GetInt32());
    }
}
