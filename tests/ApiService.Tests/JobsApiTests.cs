using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Jobs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// /api/v1/jobs against a seeded database, drained by a job processor in a host of its own wired like the Worker's
/// (the workload's handlers), so API and processor only meet in PostgreSQL, as in production.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class JobsApiTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private const string ReaderKey = "dev-reader-key-not-for-production";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly ProgressGate _progress = new();
    private string _database = null!;
    private ApiFactory _baseFactory = null!;
    private WebApplicationFactory<Program> _factory = null!;
    private HttpClient _client = null!;
    private IHost _worker = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(JobsApiTests), seed: 5);
        var baseFactory = _baseFactory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        // The API knows one extra, test-only type, like a service adding its own job types to the catalog.
        _factory = baseFactory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddJobType<ProgressPayload>(ProgressHandler.TypeName)));
        _client = _factory.CreateClient();
        // Keys are configured (Development's), so enqueueing and cancelling need one.
        _client.DefaultRequestHeaders.Add("X-Api-Key", ReaderKey);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jobs:PollInterval"] = "00:00:00.500",
            ["Jobs:ProgressInterval"] = "00:00:00.100",
            ["Jobs:ShutdownTimeout"] = "00:00:01",
        });
        // The Worker's cache-warm writes where this API reads: same Redis, same cache namespace.
        builder.Configuration["ConnectionStrings:cache"] = infrastructure.Redis.ConnectionString;
        builder.Configuration["Caching:Namespace"] = _factory.Services.GetRequiredService<IOptions<CachingOptions>>().Value.Namespace;
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddRedisClient("cache");
        builder.Services.AddAdaptiveCaching(builder.Configuration);
        builder.Services.AddNpgsqlDataSource(_database);
        builder.Services.AddWorkforceQueries(builder.Configuration);
        builder.Services.AddJobQueue(builder.Configuration);
        builder.Services.AddWorkforceAnalyses(builder.Configuration);
        builder.Services.AddWorkforceJobTypes();
        builder.Services.AddWorkforceJobHandlers();
        builder.Services.AddSingleton(_progress);
        builder.Services.AddJobHandler<ProgressPayload, ProgressHandler>(ProgressHandler.TypeName);
        builder.Services.AddJobProcessor(builder.Configuration);
        _worker = builder.Build();
        await _worker.StartAsync();
        await _worker.Services.GetRequiredService<JobProcessor>().Ready.WaitAsync(Patience);
    }

    public async Task DisposeAsync()
    {
        _progress.Release.TrySetResult();
        await _worker.StopAsync();
        _worker.Dispose();
        _client.Dispose();
        await _factory.DisposeAsync();
        await _baseFactory.DisposeAsync();
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("ndjson-gzip")]
    public async Task An_exports_downloaded_rows_equal_the_querys_rows(string format)
    {
        var parameters = new Dictionary<string, string> { ["asOf"] = "2025-06-30" };
        using var response = await _client.PostAsJsonAsync("/api/v1/jobs", new
        {
            type = "export",
            payload = new { queryId = "region-sector-heatmap", parameters, format },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        var job = await WaitForStateAsync(location, "completed");
        Assert.Equal(100, job.GetProperty("progress").GetInt32());
        Assert.EndsWith(" rows", job.GetProperty("progressMessage").GetString(), StringComparison.Ordinal);

        using var download = await _client.GetAsync(location + "/result");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();

        var expected = await RunQueryAsync("region-sector-heatmap", parameters);
        Assert.NotEmpty(expected.Rows);
        if (format == "csv")
        {
            Assert.Equal("text/csv", download.Content.Headers.ContentType!.MediaType);
            var lines = System.Text.Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
            Assert.Equal(string.Join(',', expected.Columns.Select(c => c.Name)), lines[0]);
            Assert.Equal(expected.Rows.Select(r => string.Join(',', r.Select(ExportJobHandler.Format))), lines.Skip(1));
        }
        else
        {
            Assert.Equal("application/gzip", download.Content.Headers.ContentType!.MediaType);
            await using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var reader = new StreamReader(gzip);
            var lines = (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(expected.Rows.Count, lines.Length);
            for (var i = 0; i < lines.Length; i++)
            {
                using var row = JsonDocument.Parse(lines[i]);
                for (var c = 0; c < expected.Columns.Count; c++)
                {
                    var value = row.RootElement.GetProperty(expected.Columns[c].Name);
                    Assert.Equal(ExportJobHandler.Format(expected.Rows[i][c]),
                        value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText());
                }
            }
        }
        Assert.Equal(expected.Rows.Count, job.GetProperty("result").GetProperty("rows").GetInt32());
    }

    [Fact]
    public async Task Unknown_types_and_payloads_that_do_not_fit_are_validation_problems_naming_the_parameter()
    {
        await AssertProblemAsync(new { type = "no-such-type", payload = new { } }, "type");
        await AssertProblemAsync(new { type = "export" }, "payload");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = 5 } }, "payload.queryId");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap", colour = "red" } }, "payload.colour");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "nope" } }, "payload.queryId");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap", parameters = new { asOf = "yesterday" } } },
            "payload.parameters.asOf");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap", format = "xlsx" } }, "payload.format");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap" }, priority = "urgent" }, "priority");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap" }, priority = "low,high" }, "priority");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap" }, priority = "1" }, "priority");
        await AssertProblemAsync(new { type = "export", payload = new { queryId = "region-sector-heatmap" }, maxAttempts = 0 }, "maxAttempts");
        await AssertProblemAsync(new { type = "cache-warm", payload = new { queryIds = new[] { "nope" } } }, "payload.queryIds");

        using var list = await _client.GetAsync("/api/v1/jobs?state=sleeping&pageSize=1000");
        Assert.Equal(HttpStatusCode.BadRequest, list.StatusCode);
        var errors = (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("state", out _));
        Assert.True(errors.TryGetProperty("pageSize", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/api/v1/jobs/987654321")).StatusCode);
    }

    [Fact]
    public async Task Progress_is_visible_through_the_api_then_a_running_job_is_cancelled_and_an_operator_retries_it()
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/jobs", new { type = ProgressHandler.TypeName, payload = new { steps = 5 }, priority = "high" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        var running = await Eventually.ReturnsAsync(() => GetJobAsync(location), j => j.GetProperty("progress").GetInt32() == 40,
            Patience, "progress 40% visible");
        Assert.Equal("running", running.GetProperty("state").GetString());
        Assert.Equal("step 2 of 5", running.GetProperty("progressMessage").GetString());
        Assert.Equal("high", running.GetProperty("priority").GetString());

        var listed = await _client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs?state=running&type={ProgressHandler.TypeName}");
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), j => j.GetProperty("id").GetInt64() == running.GetProperty("id").GetInt64());

        using (var cancel = await _client.DeleteAsync(location))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }
        await WaitForStateAsync(location, "cancelled");
        using (var again = await _client.DeleteAsync(location))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }

        using (var anonymous = await _client.PostAsync(location + "/retry", null))
        {
            Assert.True(anonymous.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"{anonymous.StatusCode}");
        }
        _progress.Release.TrySetResult();
        using var retry = new HttpRequestMessage(HttpMethod.Post, location + "/retry");
        retry.Headers.Add("X-Api-Key", OperatorKey);
        using var operatorClient = _factory.CreateClient();
        using (var retried = await operatorClient.SendAsync(retry))
        {
            Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        }
        var completed = await WaitForStateAsync(location, "completed");
        Assert.Equal(100, completed.GetProperty("progress").GetInt32());

        var stats = await _client.GetFromJsonAsync<JsonElement>("/api/v1/jobs/stats");
        Assert.True(stats.GetProperty("byState").GetProperty("completed").GetInt64() >= 1);
        Assert.Contains(stats.GetProperty("lastFiveMinutes").EnumerateArray(), t => t.GetProperty("type").GetString() == ProgressHandler.TypeName);
    }

    [Fact]
    public async Task A_duplicate_unique_key_returns_the_existing_job_and_a_waiting_job_is_cancelled_at_once()
    {
        var body = new { type = "export", payload = new { queryId = "region-sector-heatmap" }, uniqueKey = "nightly", delaySeconds = 3600 };
        using var first = await _client.PostAsJsonAsync("/api/v1/jobs", body);
        using var second = await _client.PostAsJsonAsync("/api/v1/jobs", body);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var job = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("scheduled", job.GetProperty("state").GetString());
        Assert.Equal(job.GetProperty("id").GetInt64(), (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());

        using var cancel = await _client.DeleteAsync(first.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("cancelled", (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Cache_warm_precomputes_the_default_answers_the_api_then_serves_from_the_cache()
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/jobs", new { type = "cache-warm", payload = new { } });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await WaitForStateAsync(response.Headers.Location!.ToString(), "completed");
        var warmed = job.GetProperty("result").GetProperty("cached").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.NotEmpty(warmed);
        foreach (var queryId in warmed)
        {
            using var answer = await _client.GetAsync($"/api/v1/queries/{queryId}");
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("HIT", answer.Headers.GetValues("X-Cache").Single());
        }
    }

    [Fact]
    public async Task An_analysis_job_reports_progress_per_step_and_stores_the_report_as_its_result()
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/jobs", new
        {
            type = "analysis",
            payload = new { analysisId = "sector-briefing", parameters = new Dictionary<string, string> { ["sector"] = "HLT" } },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var job = await WaitForStateAsync(response.Headers.Location!.ToString(), "completed");

        Assert.Equal(100, job.GetProperty("progress").GetInt32());
        Assert.StartsWith("7 of 7 steps: briefing succeeded", job.GetProperty("progressMessage").GetString(), StringComparison.Ordinal);
        var report = job.GetProperty("result");
        Assert.Equal("complete", report.GetProperty("status").GetString());
        Assert.Equal("in-process", report.GetProperty("mode").GetString());
        Assert.Equal(7, report.GetProperty("steps").EnumerateArray().Count(s => s.GetProperty("status").GetString() == "succeeded"));
    }

    [Fact]
    public async Task Analysis_jobs_are_validated_like_the_analyses_api()
    {
        await AssertProblemAsync(new { type = "analysis", payload = new { analysisId = "nope" } }, "payload.analysisId");
        await AssertProblemAsync(new { type = "analysis", payload = new { analysisId = "sector-briefing" } }, "payload.parameters.sector");
        await AssertProblemAsync(new { type = "analysis", payload = new { analysisId = "sector-briefing", parameters = new { sector = "XYZ" } } },
            "payload.parameters.sector");
        await AssertProblemAsync(new { type = "analysis", payload = new { analysisId = "wage-gap-study", mode = "everywhere" } }, "payload.mode");
        await AssertProblemAsync(new { type = "analysis-step", payload = new { queryId = "nope", inputs = new { } } }, "payload.queryId");
    }

    private async Task AssertProblemAsync(object body, string parameter)
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/jobs", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {text}");
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(parameter, out _), $"no error for '{parameter}' in {text}");
    }

    private async Task<JsonElement> GetJobAsync(string location) => await _client.GetFromJsonAsync<JsonElement>(location);

    private Task<JsonElement> WaitForStateAsync(string location, string state) =>
        Eventually.ReturnsAsync(() => GetJobAsync(location), j => j.GetProperty("state").GetString() == state, Patience, $"job {state}");

    private async Task<QueryResult> RunQueryAsync(string queryId, Dictionary<string, string> values)
    {
        var registry = _worker.Services.GetRequiredService<QueryRegistry>();
        var query = registry.Find(queryId)!;
        var (parameters, _) = QueryParameterBinder.Bind(query, values.Select(v => new KeyValuePair<string, IReadOnlyList<string?>>(v.Key, [v.Value])));
        return await _worker.Services.GetRequiredService<QueryExecutor>().ExecuteAsync(query, parameters!, CancellationToken.None);
    }
}

public sealed record ProgressPayload(int Steps);

public sealed class ProgressGate
{
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Reports progress step by step, then waits (cancellably) until the test releases it.</summary>
public sealed class ProgressHandler(ProgressGate gate) : IJobHandler<ProgressPayload>
{
    public const string TypeName = "progress-test";

    public async Task HandleAsync(JobContext<ProgressPayload> job, CancellationToken cancellationToken)
    {
        for (var step = 1; step <= job.Payload.Steps; step++)
        {
            await job.ReportProgressAsync(step * 100 / job.Payload.Steps, $"step {step} of {job.Payload.Steps}", cancellationToken);
            if (step == 2)
            {
                // Hold at 40 % so the test can watch; ReportProgress throttles, and the last report is always written.
                await gate.Release.Task.WaitAsync(cancellationToken);
            }
        }
    }
}
