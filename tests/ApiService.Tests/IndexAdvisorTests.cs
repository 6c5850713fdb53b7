using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.ApiService.Apis;
using AspirePerf.Performance.Database;
using AspirePerf.Performance.Profiling;
using AspirePerf.TestSupport;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The slow-query log and the index advisor against real PostgreSQL with pg_stat_statements, pg_qualstats and hypopg
/// (Debian packages), and without them.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class IndexAdvisorTests(InfrastructureFixture infrastructure)
{
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private const int Scale = 20_000;
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    // Every command counts as slow, every statement is worth advising, and no cache hides the database.
    private static Dictionary<string, string> Settings() => new()
    {
        ["Profiling:SlowQueryThresholdMs"] = "0",
        ["IndexAdvisor:MinMeanMs"] = "0",
        ["Caching:Enabled"] = "false",
    };

    [Fact]
    public async Task Slow_statements_are_logged_without_values_and_get_a_plan_captured_in_the_background()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("slowlog", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: Settings());
        using var client = factory.CreateClient();

        (await client.GetAsync("/api/v1/queries/employer-headcount-history?employerId=987654&from=2024-03-01")).EnsureSuccessStatusCode();

        using var listing = await client.GetAsync("/api/v1/perf/queries/slow?limit=500");
        var body = await listing.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, listing.StatusCode);
        Assert.DoesNotContain("987654", body, StringComparison.Ordinal);
        Assert.DoesNotContain("2024-03-01", body, StringComparison.Ordinal);
        var slow = JsonSerializer.Deserialize<List<SlowQuery>>(body, Json)!;
        var headcount = Assert.Single(slow, q => q.Query.Contains("generate_series", StringComparison.Ordinal) && q.Query.Contains("employer_id", StringComparison.Ordinal));
        Assert.Equal(1, headcount.Count);
        Assert.True(headcount.MaxMs > 0);

        var plan = await Eventually.ReturnsAsync(
            () => client.GetFromJsonAsync<SlowQueryPlan>($"/api/v1/perf/queries/{headcount.Fingerprint}/plan"),
            p => p!.Status != PlanStatus.Pending, TimeSpan.FromSeconds(30), "plan capture");
        Assert.Equal(PlanStatus.Captured, plan!.Status);
        // The registered query was recognized by its fingerprint, so the plan is the one its parameters really get.
        Assert.Equal(PlanSource.SampleParameters, plan.Source);
        Assert.True(plan.TotalCost > 0);
        var root = plan.Plan!.Value[0].GetProperty("Plan");
        Assert.False(string.IsNullOrEmpty(root.GetProperty("Node Type").GetString()));
        Assert.DoesNotContain("Actual Total Time", plan.Plan.Value.GetRawText(), StringComparison.Ordinal);

        // The transaction setup the query executor sends is slow too at a 0 ms threshold, but it is not a read: never planned.
        var setup = Assert.Single(slow, q => q.Query.StartsWith("set transaction read only", StringComparison.Ordinal));
        var setupPlan = await Eventually.ReturnsAsync(
            () => client.GetFromJsonAsync<SlowQueryPlan>($"/api/v1/perf/queries/{setup.Fingerprint}/plan"),
            p => p!.Status != PlanStatus.Pending, TimeSpan.FromSeconds(30), "setup verdict");
        Assert.Equal(PlanStatus.NotARead, setupPlan!.Status);
        Assert.Null(setupPlan.Plan);

        using var unknown = await client.GetAsync("/api/v1/perf/queries/0123456789abcdef/plan");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var bad = await client.GetAsync("/api/v1/perf/queries/not-a-fingerprint/plan");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("fingerprint", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Advice_is_verified_with_hypopg_and_ranked_by_workload_time_saved()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("advice", scale: Scale);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: Settings());
        using var client = factory.CreateClient();
        await RunWorkloadAsync(client);

        var report = await AdviceAsync(client);

        Assert.True(report.HypopgAvailable);
        Assert.True(report.QualstatsAvailable);
        Assert.True(report.StatementStatisticsAvailable);
        Assert.NotEmpty(report.Advice);
        Assert.All(report.Advice, advice =>
        {
            Assert.True(advice.Verified);
            Assert.StartsWith("CREATE INDEX CONCURRENTLY IF NOT EXISTS", advice.CreateStatement, StringComparison.Ordinal);
            Assert.InRange(advice.Columns.Count, 1, 2);
            Assert.True(advice.EstimatedSizeBytes > 0, advice.Name);
            Assert.InRange(advice.Improvement!.Value, 0.5, 1);
            Assert.All(advice.Statements, s => Assert.True(s.CostAfter <= s.CostBefore * 0.5, $"{advice.Name}: {s.CostBefore} → {s.CostAfter}"));
            Assert.Equal(Math.Round(advice.Statements.Sum(s => s.Calls * s.MeanMs * s.Improvement!.Value), 3), advice.WorkloadMsSaved!.Value, 2);
        });
        var saved = report.Advice.Select(a => a.WorkloadMsSaved!.Value).ToList();
        Assert.Equal(saved.OrderByDescending(x => x), saved);

        // The point lookup by employer scans the whole table: its index is advised, and leads by employer_id.
        var byEmployer = Assert.Single(report.Advice, a => a.Statements.Any(s => s.Sample == "employer-headcount-history"));
        Assert.Equal("employment_spells", byEmployer.Table);
        Assert.Equal("employer_id", byEmployer.Columns[0]);
        Assert.Contains(report.Statements, v => v.Sample == "employer-headcount-history" && v.Outcome == "recommended");
        // Statements an index cannot help get a reason, not silence.
        Assert.Contains(report.Statements, v => v.Outcome is "no-gain" or "no-candidate" && v.Detail.Length > 0);
    }

    [Fact]
    public async Task Applying_advice_builds_the_index_concurrently_and_re_measures_the_statements_it_serves()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("advice_apply", scale: Scale);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: Settings());
        using var client = factory.CreateClient();
        await RunWorkloadAsync(client);
        var report = await AdviceAsync(client);
        var advice = report.Advice.First(a => a.Statements.Any(s => s.Sample == "employer-headcount-history"));

        using (var anonymous = await client.PostAsJsonAsync("/api/v1/perf/indexes/apply", new IndexApplyRequest(advice.Name)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        using (var unknown = await ApplyAsync(client, "ix_not_advised"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
        using (var missing = await ApplyAsync(client, null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("index", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var response = await ApplyAsync(client, advice.Name);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var result = JsonSerializer.Deserialize<IndexApplyResult>(body, Json)!;

        Assert.Equal(advice.CreateStatement, result.CreateStatement);
        Assert.True(result.Kept, result.Verdict);
        Assert.StartsWith("Kept", result.Verdict, StringComparison.Ordinal);
        Assert.True(result.BuildMs > 0);
        var measured = Assert.Single(result.Statements, s => s.Sample == "employer-headcount-history");
        Assert.True(measured.BeforeMs > 0 && measured.AfterMs > 0, body);
        Assert.Equal(Math.Round(measured.BeforeMs!.Value / measured.AfterMs!.Value, 2), measured.Speedup);

        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            await using var valid = new NpgsqlCommand("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", connection);
            valid.Parameters.Add(new NpgsqlParameter { Value = advice.Name });
            Assert.Equal(true, await valid.ExecuteScalarAsync());
        }
        var after = await AdviceAsync(client);
        Assert.DoesNotContain(after.Advice, a => a.Name == advice.Name);
    }

    [Fact]
    public async Task Without_hypopg_pg_qualstats_and_pg_stat_statements_advice_comes_from_the_slow_log_marked_unverified()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("advice_bare", scale: Scale);
        await WorkforceDatabase.ExecuteAsync(database, "DROP EXTENSION hypopg; DROP EXTENSION pg_qualstats; DROP EXTENSION pg_stat_statements");
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: Settings());
        using var client = factory.CreateClient();
        await RunWorkloadAsync(client);

        var report = await AdviceAsync(client);

        Assert.False(report.HypopgAvailable);
        Assert.False(report.QualstatsAvailable);
        Assert.False(report.StatementStatisticsAvailable);
        Assert.Contains(report.Notes, n => n.Contains("CREATE EXTENSION hypopg", StringComparison.Ordinal));
        Assert.NotEmpty(report.Advice);
        Assert.All(report.Advice, a =>
        {
            Assert.False(a.Verified);
            Assert.Null(a.Improvement);
            Assert.Null(a.WorkloadMsSaved);
        });
        var byEmployer = Assert.Single(report.Advice, a => a.Statements.Any(s => s.Sample == "employer-headcount-history"));
        Assert.Equal("employer_id", byEmployer.Columns[0]);
    }

    /// <summary>A small workload with a clear winner: the by-employer lookup many times, a few aggregations once.</summary>
    private static async Task RunWorkloadAsync(HttpClient client)
    {
        for (var i = 1; i <= 12; i++)
        {
            (await client.GetAsync($"/api/v1/queries/employer-headcount-history?employerId={i}")).EnsureSuccessStatusCode();
        }
        foreach (var query in (string[])["new-hires-per-month", "nationalization-share", "vacancy-time-to-fill", "workers-by-education"])
        {
            (await client.GetAsync($"/api/v1/queries/{query}")).EnsureSuccessStatusCode();
        }
    }

    private static async Task<IndexAdviceReport> AdviceAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/api/v1/perf/indexes/advice");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonSerializer.Deserialize<IndexAdviceReport>(body, Json)!;
    }

    private static Task<HttpResponseMessage> ApplyAsync(HttpClient client, string? index)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/perf/indexes/apply") { Content = JsonContent.Create(new IndexApplyRequest(index)) };
        request.Headers.Add("X-Api-Key", OperatorKey);
        return client.SendAsync(request);
    }
}
