using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspirePerf.Performance.Jobs;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The contract check: for every operation of the document the API serves, a request that provokes each status the
/// operation documents, and every response of the run (recorded per operation by a handler on each client) has a status
/// the operation documents. Run in both configurations that change the document (reads anonymous, reads keyed).
/// Provoking some answers takes a host of its own: tiny rate limits (429), Kestrel with a 1 KiB body limit (413), one row
/// per buffered answer (422), an unreachable database (503), an unseeded one (404 for the workload), and tables locked
/// under short statement timeouts and deadlines (504).
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ApiContractTests(InfrastructureFixture infrastructure, Xunit.Abstractions.ITestOutputHelper output)
{
    private const string ReaderKey = "dev-reader-key-not-for-production";
    private const string OperatorKey = "dev-operator-key-not-for-production";
    // A known key without any role: what a 403 needs where the reader role is enough.
    private const string RolelessKey = "contract-key-without-any-role";
    private const long UnknownJob = 987_654_321;
    private static readonly string[] WorkforceTables = ["sectors", "regions", "occupations", "employers", "persons", "employment_spells", "vacancies"];

    private readonly ConcurrentQueue<RecordedResponse> _recorded = new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_documented_status_is_provoked_and_every_observed_status_is_documented(bool readersNeedKeys)
    {
        // The index advisor needs a workload big enough for an index to pay (as in IndexAdvisorTests).
        var database = await infrastructure.CreateSeededDatabaseAsync(readersNeedKeys ? "contractkeyed" : "contract", scale: 20_000);
        await using (var dataSource = NpgsqlDataSource.Create(database))
        {
            await JobSchema.MigrateAsync(dataSource, CancellationToken.None);
        }
        var settings = new Dictionary<string, string>
        {
            ["ApiKeys:RequireReaderForReads"] = readersNeedKeys ? "true" : "false",
            ["ApiKeys:Keys:5:Name"] = "contract-roleless",
            ["ApiKeys:Keys:5:Key"] = RolelessKey,
            ["Profiling:PlainRequestSampling"] = "1",
            ["Profiling:SlowQueryThresholdMs"] = "0",
            ["IndexAdvisor:MinMeanMs"] = "0",
            ["Caching:Enabled"] = "false",
            ["RateLimits:Policies:operator:PermitLimit"] = "100000",
            ["RateLimits:Policies:writes:PermitLimit"] = "100000",
        };

        await using var main = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: settings);
        using var api = main.CreateDefaultClient(new ResponseRecorder(_recorded));
        using var plain = main.CreateClient();
        var operations = ContractOperation.Read(JsonNode.Parse(await plain.GetStringAsync("/openapi/v1.json"))!);
        var byId = operations.ToDictionary(o => o.Id);

        await ProvokeOnTheMainHostAsync(main, api, operations, byId, database);
        await ProvokePayloadTooLargeAsync(database, settings, operations);
        await ProvokeOnAHostAsync(database, settings, new() { ["RateLimits:KeyPrefix"] = "contract" + Guid.NewGuid().ToString("N"),
            ["RateLimits:Policies:reads:PermitLimit"] = "1", ["RateLimits:Policies:writes:PermitLimit"] = "1",
            ["RateLimits:Policies:operator:PermitLimit"] = "1", ["RateLimits:Policies:perf:PermitLimit"] = "1",
            ["RateLimits:Policies:reads:WindowSeconds"] = "3600", ["RateLimits:Policies:writes:WindowSeconds"] = "3600",
            ["RateLimits:Policies:operator:WindowSeconds"] = "3600", ["RateLimits:Policies:perf:WindowSeconds"] = "3600" },
            async client =>
            {
                foreach (var operation in operations.Where(o => o.Statuses.Contains(429)))
                {
                    for (var attempt = 0; attempt < 3 && await StatusAsync(client, Cheap(operation)) != 429; attempt++)
                    {
                    }
                }
            });
        await ProvokeOnAHostAsync(database, settings, new() { ["Queries:MaxRows"] = "1", ["Queries:DefaultPageSize"] = "1" }, async client =>
        {
            foreach (var operation in operations.Where(o => o.Statuses.Contains(422)))
            {
                await StatusAsync(client, Valid(operation));
            }
        });
        var unreachable = $"Host=127.0.0.1;Port={FreePort.Next()};Database=workforce;Username=postgres;Password=unreachable;Timeout=3";
        await ProvokeOnAHostAsync(unreachable, settings, [], async client =>
        {
            foreach (var operation in operations.Where(o => o.Statuses.Contains(503)))
            {
                await StatusAsync(client, Valid(operation));
            }
        });
        var unseeded = await infrastructure.CreateMigratedDatabaseAsync("contractunseeded");
        await ProvokeOnAHostAsync(unseeded, settings, [], async client => await StatusAsync(client, Valid(byId["GetWorkload"])));
        await ProvokeTimeoutsAsync(database, settings, operations);

        AssertContractHolds(operations);
    }

    /// <summary>Every documented status was observed for its operation, and every observed status is documented by each operation whose path matches.</summary>
    private void AssertContractHolds(IReadOnlyList<ContractOperation> operations)
    {
        var failures = new List<string>();
        var observed = operations.ToDictionary(o => o, _ => new HashSet<int>());
        foreach (var response in _recorded)
        {
            var matching = operations.Where(o => o.Method == response.Method && o.Pattern.IsMatch(response.Path)).ToList();
            if (matching.Count == 0)
            {
                failures.Add($"{response.Method} {response.Path} answered {response.Status}, and the document has no operation for it.");
            }
            foreach (var operation in matching)
            {
                observed[operation].Add(response.Status);
                if (!operation.Statuses.Contains(response.Status))
                {
                    failures.Add($"{operation}: answered {response.Status} ({response.Method} {response.Path}), which it does not document.");
                }
            }
        }
        foreach (var operation in operations)
        {
            foreach (var status in operation.Statuses.Where(s => !observed[operation].Contains(s)).Order())
            {
                failures.Add($"{operation}: documents {status}, which no request of the run provoked (observed: {string.Join(", ", observed[operation].Order())}).");
            }
        }
        output.WriteLine($"{operations.Count} operations, {operations.Sum(o => o.Statuses.Count)} documented (operation, status) pairs, {_recorded.Count} responses recorded:");
        foreach (var operation in operations)
        {
            output.WriteLine($"  {operation}: documents {string.Join(" ", operation.Statuses.Order())}; observed {string.Join(" ", observed[operation].Order())}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} disagreements between the API and its document:{Environment.NewLine}" +
            string.Join(Environment.NewLine, failures.Distinct()));
    }

    private async Task ProvokeOnTheMainHostAsync(ApiFactory main, HttpClient api, IReadOnlyList<ContractOperation> operations,
        Dictionary<string, ContractOperation> byId, string database)
    {
        var queue = main.Services.GetRequiredService<PostgresJobQueue>();

        // Jobs in every state the job operations answer about: running, completed, waiting, cancelled.
        var running = await EnqueueAsync(api);
        Assert.Equal(running, Assert.Single(await queue.FetchAsync("contract", ["cache-warm"], 1, CancellationToken.None)).Id);
        var completed = await EnqueueAsync(api);
        Assert.Equal(completed, Assert.Single(await queue.FetchAsync("contract", ["cache-warm"], 1, CancellationToken.None)).Id);
        await queue.CompleteAsync("contract", [new JobCompletion(completed, "{\"warmed\":0}")], CancellationToken.None);
        var waiting = await EnqueueAsync(api);
        var cancelled = await EnqueueAsync(api);
        await ExpectAsync(api, new("POST", "/api/v1/jobs", ReaderKey, """{"type":"cache-warm","payload":{},"uniqueKey":"contract"}"""), 202);
        await ExpectAsync(api, new("POST", "/api/v1/jobs", ReaderKey, """{"type":"cache-warm","payload":{},"uniqueKey":"contract"}"""), 200);
        await ExpectAsync(api, new("DELETE", $"/api/v1/jobs/{running}", ReaderKey), 202);
        await ExpectAsync(api, new("DELETE", $"/api/v1/jobs/{cancelled}", ReaderKey), 200);
        await ExpectAsync(api, new("DELETE", $"/api/v1/jobs/{completed}", ReaderKey), 409);
        await ExpectAsync(api, new("GET", $"/api/v1/jobs/{waiting}"), 200);
        await ExpectAsync(api, new("GET", $"/api/v1/jobs/{completed}/result"), 200);
        await ExpectAsync(api, new("GET", $"/api/v1/jobs/{waiting}/result"), 409);
        await ExpectAsync(api, new("POST", $"/api/v1/jobs/{cancelled}/retry"), 202);
        await ExpectAsync(api, new("POST", $"/api/v1/jobs/{waiting}/retry"), 409);

        // Every operation's ordinary request, then what each documented client error needs.
        var stateful = new HashSet<string>(StringComparer.Ordinal) { "EnqueueJob", "CancelJob", "GetJob", "GetJobResult", "RetryJob", "ApplyIndex", "GetRequestProfile", "GetSlowQueryPlan" };
        foreach (var operation in operations.Where(o => !stateful.Contains(o.Id)))
        {
            await StatusAsync(api, Valid(operation));
        }
        foreach (var operation in operations)
        {
            if (operation.Statuses.Contains(304))
            {
                using var fresh = await SendAsync(api, Valid(operation));
                var etag = fresh.Headers.ETag?.ToString();
                Assert.False(etag is null, $"{operation}: no ETag to revalidate with ({(int)fresh.StatusCode}).");
                await ExpectAsync(api, Valid(operation) with { IfNoneMatch = etag }, 304);
            }
            if (operation.Statuses.Contains(400))
            {
                await ExpectAsync(api, BadRequest(operation), 400);
            }
            if (operation.Statuses.Contains(401))
            {
                await ExpectAsync(api, Cheap(operation) with { Key = null }, 401);
            }
            if (operation.Statuses.Contains(403))
            {
                var lesser = operation.Node["x-aspireperf-access"]?.GetValue<string>() == "operator" ? ReaderKey : RolelessKey;
                await ExpectAsync(api, Cheap(operation) with { Key = lesser }, 403);
            }
            if (operation.Statuses.Contains(404) && NotFound(operation) is { } missing)
            {
                await ExpectAsync(api, missing, 404);
            }
            if (operation.Statuses.Contains(406))
            {
                await ExpectAsync(api, Valid(operation) with { Accept = "application/xml" }, 406);
            }
            if (operation.Statuses.Contains(415))
            {
                await ExpectAsync(api, Cheap(operation) with { ContentType = "text/plain" }, 415);
            }
        }

        // A request's profile and a slow statement's plan (every statement counts as slow on this host).
        using (var traced = await SendAsync(api, Valid(byId["RunWorkersByEducation"])))
        {
            await ExpectAsync(api, new("GET", $"/api/v1/perf/requests/{traced.Headers.GetValues("X-Trace-Id").Single()}"), 200);
        }
        using (var slow = await SendAsync(api, new("GET", "/api/v1/perf/queries/slow?limit=500")))
        {
            var fingerprint = JsonNode.Parse(await slow.Content.ReadAsStringAsync())!.AsArray()[0]!["fingerprint"]!.GetValue<string>();
            await ExpectAsync(api, new("GET", $"/api/v1/perf/queries/{fingerprint}/plan"), 200);
        }

        // Index advice for the workload run above: applying an index whose name another relation took meanwhile is a 409;
        // once the name is free again, the advised index is built (200).
        for (var employer = 1; employer <= 12; employer++)
        {
            await StatusAsync(api, new("GET", $"/api/v1/queries/employer-headcount-history?employerId={employer}"));
        }
        using var advice = await SendAsync(api, new("GET", "/api/v1/perf/indexes/advice"));
        var advised = JsonNode.Parse(await advice.Content.ReadAsStringAsync())!["advice"]!.AsArray().Select(a => a!.AsObject()).ToList();
        Assert.True(advised.Count > 0, "The index advisor advised no index for the contract run's workload.");
        var index = advised[0];
        var taken = $"\"{(string)index["schema"]!}\".\"{(string)index["name"]!}\"";
        await ExecuteAsync(database, $"CREATE TABLE {taken} (id int)");
        await ExpectAsync(api, new("POST", "/api/v1/perf/indexes/apply", OperatorKey, new JsonObject { ["index"] = (string)index["name"]! }.ToJsonString()), 409);
        await ExecuteAsync(database, $"DROP TABLE {taken}");
        await ExpectAsync(api, new("POST", "/api/v1/perf/indexes/apply", OperatorKey, new JsonObject { ["index"] = (string)index["name"]! }.ToJsonString()), 200);
    }

    /// <summary>413 comes from Kestrel's body limit, which the in-memory test server does not enforce.</summary>
    private async Task ProvokePayloadTooLargeAsync(string database, Dictionary<string, string> settings, IReadOnlyList<ContractOperation> operations)
    {
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString,
            settings: new(settings) { ["Http:Limits:MaxRequestBodyBytes"] = "1024" });
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = factory.CreateDefaultClient(new ResponseRecorder(_recorded));
        var oversized = "{\"pad\":\"" + new string('x', 4096) + "\"}";
        foreach (var operation in operations.Where(o => o.Statuses.Contains(413)))
        {
            await ExpectAsync(client, Cheap(operation) with { Body = oversized }, 413);
        }
    }

    /// <summary>Tables locked by another transaction: statements run into their timeouts, analyses into their deadlines.</summary>
    private async Task ProvokeTimeoutsAsync(string database, Dictionary<string, string> settings, IReadOnlyList<ContractOperation> operations)
    {
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: new(settings)
        {
            ["Queries:StatementTimeoutMs"] = "400",
            ["Queries:StreamStatementTimeoutMs"] = "400",
            ["Profiling:SlowQueryThresholdMs"] = "600000",
        });
        using var client = factory.CreateDefaultClient(new ResponseRecorder(_recorded));
        using (var warm = factory.CreateClient())
        {
            (await warm.GetAsync("/alive")).EnsureSuccessStatusCode();
        }
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand($"LOCK TABLE {string.Join(", ", WorkforceTables)} IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await command.ExecuteNonQueryAsync();
        }
        // Each request waits out its statement timeout or deadline on the locks (about 0.4 s, for every query, stream and
        // analysis operation): four at a time rather than one after another. Each operation still gets its own request.
        await Parallel.ForEachAsync(operations.Where(o => o.Statuses.Contains(504)), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (operation, _) =>
        {
            var request = Valid(operation);
            if (operation.Path.StartsWith("/api/v1/analyses/", StringComparison.Ordinal))
            {
                request = request with { Url = request.Url + (request.Url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "deadlineMs=300" };
            }
            await ExpectAsync(client, request, 504);
        });
        await transaction.RollbackAsync();
    }

    private async Task ProvokeOnAHostAsync(string database, Dictionary<string, string> settings, Dictionary<string, string> overrides, Func<HttpClient, Task> provoke)
    {
        var all = new Dictionary<string, string>(settings);
        foreach (var (key, value) in overrides)
        {
            all[key] = value;
        }
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: all);
        using var client = factory.CreateDefaultClient(new ResponseRecorder(_recorded));
        await provoke(client);
    }

    /// <summary>The operation's ordinary request (what a client would send to get its success answer).</summary>
    private static Probe Valid(ContractOperation operation) => operation.Id switch
    {
        "RunQuery" => new("GET", "/api/v1/queries/wage-percentiles"),
        "StreamQueryRows" => new("GET", "/api/v1/queries/workers-by-education/rows"),
        "RunAnalysis" => new("GET", "/api/v1/analyses/wage-gap-study"),
        "GetConstantJson" => new("GET", "/api/v1/system/constant?bytes=64"),
        "SetProfilingState" => new("PUT", operation.Path, OperatorKey, """{"enabled":true}"""),
        "InvalidateCache" => new("POST", operation.Path, OperatorKey, """{"all":true}"""),
        "ApplyIndex" => new("POST", operation.Path, OperatorKey, """{"index":"ix_contract_not_advised"}"""),
        "EnqueueJob" => new("POST", operation.Path, ReaderKey, """{"type":"cache-warm","payload":{}}"""),
        "GetJob" or "CancelJob" or "RetryJob" => new(operation.Method, $"/api/v1/jobs/{UnknownJob}" + (operation.Id == "RetryJob" ? "/retry" : "")),
        "GetJobResult" => new("GET", $"/api/v1/jobs/{UnknownJob}/result"),
        "GetRequestProfile" => new("GET", "/api/v1/perf/requests/00000000000000000000000000000000"),
        "GetSlowQueryPlan" => new("GET", "/api/v1/perf/queries/0123456789abcdef/plan"),
        _ when operation.Path.StartsWith("/api/v1/analyses/", StringComparison.Ordinal) && !operation.Path.Contains('{', StringComparison.Ordinal)
            && operation.Path != "/api/v1/analyses" => new("GET", operation.ExampleUrl()),
        _ when operation.Path.StartsWith("/api/v1/queries/", StringComparison.Ordinal) => new("GET", operation.ExampleUrl()),
        _ => new(operation.Method, operation.Path),
    };

    /// <summary>A request that passes authorization and does as little as the operation allows (for 401, 403, 413, 415 and 429).</summary>
    private static Probe Cheap(ContractOperation operation) => operation.Id switch
    {
        "EnqueueJob" => new("POST", operation.Path, ReaderKey, """{"type":"contract-unknown","payload":{}}"""),
        "ApplyIndex" => new("POST", operation.Path, OperatorKey, """{"index":""}"""),
        "InvalidateCache" => new("POST", operation.Path, OperatorKey, """{"key":"contract-none"}"""),
        _ => Valid(operation),
    };

    private static Probe BadRequest(ContractOperation operation) => operation.Id switch
    {
        "RunQuery" => new("GET", "/api/v1/queries/wage-histogram?bucketWidth=5"),
        "StreamQueryRows" => new("GET", "/api/v1/queries/wage-histogram/rows?bucketWidth=5"),
        "RunAnalysis" => new("GET", "/api/v1/analyses/wage-gap-study?deadlineMs=0"),
        "GetConstantJson" => new("GET", "/api/v1/system/constant?bytes=1"),
        "GetServerStatements" => new("GET", "/api/v1/perf/statements?orderBy=contract"),
        "GetSlowestEndpoints" => new("GET", "/api/v1/perf/endpoints/slowest?limit=0"),
        "GetSlowQueries" => new("GET", "/api/v1/perf/queries/slow?limit=0"),
        "GetSlowQueryPlan" => new("GET", "/api/v1/perf/queries/not-a-fingerprint/plan"),
        "ListJobs" => new("GET", "/api/v1/jobs?state=contract"),
        "GetJobStatistics" => new("GET", "/api/v1/jobs/stats?windowSeconds=0"),
        "ListAuditEntries" => new("GET", "/api/v1/audit?limit=0"),
        "SetProfilingState" or "InvalidateCache" or "ApplyIndex" or "EnqueueJob" => Cheap(operation) with { Body = "[1, 2]" },
        _ => Valid(operation) with { Url = Valid(operation).Url + (Valid(operation).Url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "contractUnknown=1" },
    };

    private static Probe? NotFound(ContractOperation operation) => operation.Id switch
    {
        "RunQuery" => new("GET", "/api/v1/queries/contract-unknown"),
        "StreamQueryRows" => new("GET", "/api/v1/queries/contract-unknown/rows"),
        "RunAnalysis" => new("GET", "/api/v1/analyses/contract-unknown"),
        "GetWorkload" => null, // on the unseeded host
        _ => Valid(operation), // the ordinary request of an operation on a resource names one that does not exist
    };

    private static async Task<long> EnqueueAsync(HttpClient api)
    {
        using var response = await SendAsync(api, new("POST", "/api/v1/jobs", ReaderKey, """{"type":"cache-warm","payload":{}}"""));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 202, body);
        return JsonNode.Parse(body)!["id"]!.GetValue<long>();
    }

    private static async Task ExpectAsync(HttpClient client, Probe probe, int expected)
    {
        using var response = await SendAsync(client, probe);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expected, $"{probe.Method} {probe.Url}: expected {expected}, got {(int)response.StatusCode} {body}");
    }

    private static async Task<int> StatusAsync(HttpClient client, Probe probe)
    {
        using var response = await SendAsync(client, probe);
        await response.Content.LoadIntoBufferAsync();
        return (int)response.StatusCode;
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, Probe probe)
    {
        var request = new HttpRequestMessage(new HttpMethod(probe.Method), probe.Url);
        if (probe.Key is not null)
        {
            request.Headers.Add("X-Api-Key", probe.Key);
        }
        if (probe.Body is not null)
        {
            request.Content = new StringContent(probe.Body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(probe.ContentType);
        }
        if (probe.IfNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", probe.IfNoneMatch);
        }
        if (probe.Accept is not null)
        {
            request.Headers.Accept.ParseAdd(probe.Accept);
        }
        return client.SendAsync(request);
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>One request: the operator key unless a probe says otherwise (it may call every operation).</summary>
    private sealed record Probe(string Method, string Url, string? Key = OperatorKey, string? Body = null)
    {
        public string ContentType { get; init; } = "application/json";

        public string? IfNoneMatch { get; init; }

        public string? Accept { get; init; }
    }
}
