using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.Performance.Jobs;
using AspirePerf.TestSupport;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>Writes need a key once keys exist; every write and operator action lands in the audit trail.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class AuditAndAccessTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string ReaderKey = "dev-reader-key-not-for-production";
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private string _database = "";

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync("audit", scale: 2_000);
        await using var dataSource = NpgsqlDataSource.Create(_database);
        await JobSchema.MigrateAsync(dataSource, CancellationToken.None);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static HttpRequestMessage Request(HttpMethod method, string path, object? body = null, string? key = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }
        return request;
    }

    [Fact]
    public async Task Enqueue_and_cancel_need_a_key_once_keys_are_configured_and_stay_open_without_any()
    {
        // Development configures keys (appsettings.Development.json).
        await using (var withKeys = new ApiFactory(_database, infrastructure.Redis.ConnectionString))
        {
            using var client = withKeys.CreateClient();
            var job = new { type = "cache-warm", payload = new { } };
            using (var anonymous = await client.SendAsync(Request(HttpMethod.Post, "/api/v1/jobs", job)))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
                Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
            }
            using (var wrongKey = await client.SendAsync(Request(HttpMethod.Post, "/api/v1/jobs", job, "not-a-configured-key-at-all")))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
            }
            using var accepted = await client.SendAsync(Request(HttpMethod.Post, "/api/v1/jobs", job, ReaderKey));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            var location = accepted.Headers.Location!.ToString();
            using (var anonymousCancel = await client.SendAsync(Request(HttpMethod.Delete, location)))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymousCancel.StatusCode);
            }
            using var cancelled = await client.SendAsync(Request(HttpMethod.Delete, location, key: ReaderKey));
            Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        }

        // Production with no key configured at all: a bare local run, writes stay open.
        await using var withoutKeys = new ApiFactory(_database, infrastructure.Redis.ConnectionString, environment: "Production");
        using var open = withoutKeys.CreateClient();
        using var enqueued = await open.SendAsync(Request(HttpMethod.Post, "/api/v1/jobs", new { type = "cache-warm", payload = new { } }));
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);
    }

    [Fact]
    public async Task Every_write_and_operator_action_is_in_the_audit_trail_with_who_what_parameters_and_outcome()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        var actions = new (HttpRequestMessage Request, string Action, int Status)[]
        {
            (Request(HttpMethod.Put, "/api/v1/perf/profiling", new { enabled = false }, OperatorKey), "PUT /api/v1/perf/profiling", 200),
            (Request(HttpMethod.Put, "/api/v1/perf/profiling", new { enabled = true }, OperatorKey), "PUT /api/v1/perf/profiling", 200),
            (Request(HttpMethod.Post, "/api/v1/perf/cache/invalidate", new { all = true }, OperatorKey), "POST /api/v1/perf/cache/invalidate", 200),
            (Request(HttpMethod.Post, "/api/v1/perf/indexes/apply", new { index = "no_such_advice" }, OperatorKey), "POST /api/v1/perf/indexes/apply", 404),
            (Request(HttpMethod.Post, "/api/v1/jobs", new { type = "cache-warm", payload = new { }, uniqueKey = "audit-test" }, ReaderKey), "POST /api/v1/jobs", 202),
        };
        foreach (var (request, _, status) in actions)
        {
            using (request)
            using (var response = await client.SendAsync(request))
            {
                Assert.True((int)response.StatusCode == status, $"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
        var jobId = (await client.GetFromJsonAsync<JsonElement>("/api/v1/jobs?type=cache-warm")).GetProperty("items")
            .EnumerateArray().First().GetProperty("id").GetInt64();
        using (var cancel = await client.SendAsync(Request(HttpMethod.Delete, $"/api/v1/jobs/{jobId}", key: ReaderKey)))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        using (var retry = await client.SendAsync(Request(HttpMethod.Post, $"/api/v1/jobs/{jobId}/retry", key: OperatorKey)))
        {
            Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        }

        using (var anonymous = await client.SendAsync(Request(HttpMethod.Get, "/api/v1/audit")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        using (var reader = await client.SendAsync(Request(HttpMethod.Get, "/api/v1/audit", key: ReaderKey)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, reader.StatusCode);
        }
        using (var badLimit = await client.SendAsync(Request(HttpMethod.Get, "/api/v1/audit?limit=0", key: OperatorKey)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
            Assert.Contains("limit", await badLimit.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var page = await client.SendAsync(Request(HttpMethod.Get, "/api/v1/audit?limit=100", key: OperatorKey));
        Assert.Equal("no-store", page.Headers.CacheControl?.ToString());
        var entries = (await page.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("entries").EnumerateArray().Reverse().ToList();
        var expected = actions.Select(a => (a.Action, a.Status))
            .Append(("DELETE /api/v1/jobs/{id:long}", 200)).Append(("POST /api/v1/jobs/{id:long}/retry", 202)).ToList();
        Assert.Equal(expected, entries.Select(e => (e.GetProperty("action").GetString()!, e.GetProperty("status").GetInt32())).ToList());
        Assert.Equal("dev-operator", entries[0].GetProperty("actor").GetString());
        Assert.Equal("dev-reader", entries[4].GetProperty("actor").GetString());
        Assert.False(entries[0].GetProperty("parameters").GetProperty("body").GetProperty("enabled").GetBoolean());
        Assert.True(entries[2].GetProperty("parameters").GetProperty("body").GetProperty("all").GetBoolean());
        Assert.Equal("no_such_advice", entries[3].GetProperty("parameters").GetProperty("body").GetProperty("index").GetString());
        Assert.Equal(jobId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            entries[5].GetProperty("parameters").GetProperty("route").GetProperty("id").GetString());
        Assert.All(entries, e => Assert.Equal(32, e.GetProperty("traceId").GetString()!.Length));

        // Keyset pages: two at a time, every entry exactly once.
        var seen = new List<long>();
        string? next = "/api/v1/audit?limit=2";
        while (next is not null)
        {
            using var response = await client.SendAsync(Request(HttpMethod.Get, next, key: OperatorKey));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            seen.AddRange(body.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("id").GetInt64()));
            next = body.GetProperty("next").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next").GetString();
        }
        Assert.Equal(entries.Select(e => e.GetProperty("id").GetInt64()).Reverse(), seen);
    }
}
