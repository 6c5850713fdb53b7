using System.Net;
using System.Net.Http.Json;
using AspirePerf.Performance.Database;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>The pg_stat_statements view: top statements when enabled, a plain answer when not.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ServerStatementsTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task Top_statements_come_from_pg_stat_statements_with_fingerprints_and_hit_ratios()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("statements", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();
        (await client.GetAsync("/api/v1/queries/workers-by-education?asOf=2024-06-30")).Dispose();

        var byTotal = await client.GetFromJsonAsync<ServerStatementsReport>("/api/v1/perf/statements?orderBy=total&limit=50");
        var byCalls = await client.GetFromJsonAsync<ServerStatementsReport>("/api/v1/perf/statements?orderBy=calls&limit=5");

        Assert.True(byTotal!.Enabled, byTotal.Reason);
        var query = Assert.Single(byTotal.Statements, s => s.Query.Contains("array_position", StringComparison.Ordinal));
        Assert.True(query.Calls >= 1);
        Assert.Matches("^[0-9a-f]{16}$", query.Fingerprint);
        Assert.InRange(query.BufferHitRatio ?? 1, 0, 1);
        Assert.Equal(byTotal.Statements.OrderByDescending(s => s.TotalMs).Select(s => s.QueryId), byTotal.Statements.Select(s => s.QueryId));
        Assert.True(byCalls!.Statements.Count <= 5);
    }

    [Fact]
    public async Task Without_the_extension_the_answer_says_so_and_how_to_fix_it()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("statements_off", scale: 1_000);
        await WorkforceDatabase.ExecuteAsync(database, "DROP EXTENSION pg_stat_statements");
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/api/v1/perf/statements");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        var report = System.Text.Json.JsonSerializer.Deserialize<ServerStatementsReport>(body, System.Text.Json.JsonSerializerOptions.Web);

        Assert.False(report!.Enabled, body);
        Assert.Contains("CREATE EXTENSION pg_stat_statements", report.Reason, StringComparison.Ordinal);
        Assert.Empty(report.Statements);
    }

    [Theory]
    [InlineData("orderBy=slowest", "orderBy")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    public async Task Bad_parameters_are_a_400_naming_them(string query, string parameter)
    {
        await using var factory = new ApiFactory(await infrastructure.CreateDatabaseAsync("statements_bad"), infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var response = await client.GetAsync($"/api/v1/perf/statements?{query}");
        var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _));
    }
}
