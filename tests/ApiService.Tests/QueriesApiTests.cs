using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Queries;

namespace AspirePerf.ApiService.Tests;

/// <summary>The queries API over HTTP against a seeded database: listing, running, every validation path, timeouts.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class QueriesApiTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private string _database = null!;
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(QueriesApiTests), seed: 9, scale: 20_000);
        _factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        _client = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task The_registry_lists_every_query_with_its_parameter_schema()
    {
        using var document = JsonDocument.Parse(await _client.GetStringAsync("/api/v1/queries"));
        var queries = document.RootElement.EnumerateArray().ToList();

        Assert.Equal(WorkforceQueries.All.Select(q => q.Id), queries.Select(q => q.GetProperty("id").GetString()));
        var histogram = queries.Single(q => q.GetProperty("id").GetString() == "wage-histogram");
        var bucket = histogram.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "bucketWidth");
        Assert.Equal("Integer", bucket.GetProperty("type").GetString());
        Assert.Equal(100, bucket.GetProperty("minimum").GetDecimal());
        Assert.Equal(10_000, bucket.GetProperty("maximum").GetDecimal());
        Assert.Equal(1000, bucket.GetProperty("default").GetInt64());
        var sector = histogram.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "sector");
        Assert.Contains("CON", sector.GetProperty("allowedValues").EnumerateArray().Select(v => v.GetString()));
        Assert.False(sector.GetProperty("required").GetBoolean());
    }

    [Fact]
    public async Task Running_a_query_returns_columns_rows_count_and_execution_time()
    {
        using var response = await _client.GetAsync("/api/v1/queries/region-sector-heatmap?asOf=2025-06-30");
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(double.TryParse(response.Headers.GetValues("X-Exec-Time").Single(), System.Globalization.CultureInfo.InvariantCulture, out var header) && header > 0);
        Assert.Equal(["region", "sector", "headcount"], root.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal(root.GetProperty("rows").GetArrayLength(), root.GetProperty("rowCount").GetInt32());
        Assert.False(root.TryGetProperty("executionMs", out _)); // the cost is in X-Exec-Time: the body is the data only
        Assert.Equal("2025-06-30", root.GetProperty("parameters").GetProperty("asOf").GetString());
    }

    [Fact]
    public async Task An_unknown_query_is_a_404_problem()
    {
        using var response = await _client.GetAsync("/api/v1/queries/no-such-query");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-such-query", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("employer-profile", "", "employerId", "Required")]
    [InlineData("employer-profile", "employerId=abc", "employerId", "whole number")]
    [InlineData("employer-profile", "employerId=0", "employerId", "between 1 and")]
    [InlineData("employer-profile", "employerId=99999999999", "employerId", "between 1 and")]
    [InlineData("employer-profile", "employerId=1&employerId=2", "employerId", "more than once")]
    [InlineData("employer-profile", "employerId=1&limit=5", "limit", "Unknown parameter")]
    [InlineData("wage-histogram", "bucketWidth=5", "bucketWidth", "between 100 and 10000")]
    [InlineData("wage-histogram", "sector=XYZ", "sector", "Must be one of")]
    [InlineData("wage-histogram", "asOf=30/06/2025", "asOf", "yyyy-MM-dd")]
    [InlineData("wage-histogram", "asOf=2030-01-01", "asOf", "between 2015-01-01 and 2025-12-31")]
    [InlineData("wage-histogram", "bucketWidth=5000&maxWage=2000", "maxWage", "at least one bucket width")]
    [InlineData("new-hires-per-month", "from=2025-01-01&to=2024-01-01", "to", "not be before 'from'")]
    [InlineData("turnover-by-sector-year", "fromYear=2020.5", "fromYear", "whole number")]
    public async Task Invalid_parameters_are_a_400_problem_naming_the_parameter_and_the_rule(string query, string parameters, string name, string rule)
    {
        using var response = await _client.GetAsync($"/api/v1/queries/{query}?{parameters}");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var messages = problem.GetProperty("errors").GetProperty(name).EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains(messages, m => m!.Contains(rule, StringComparison.Ordinal));
    }

    public static TheoryData<string> Injections() =>
    [
        "'; DROP TABLE employment_spells; --",
        "1 OR 1=1",
        "CON' OR '1'='1",
        "2025-01-01'); DELETE FROM persons; --",
        "$1",
        "@sector",
        "\u0000",
        new string('x', 5000),
    ];

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task Sql_injection_in_any_parameter_is_harmless(string hostile)
    {
        var before = await WorkforceDatabase.ChecksumAsync(_database);

        foreach (var query in WorkforceQueries.All)
        {
            foreach (var parameter in query.Parameters)
            {
                var others = query.Parameters.Where(p => p.Required && p.Name != parameter.Name).Select(p => $"{p.Name}=1");
                var url = $"/api/v1/queries/{query.Id}?{string.Join('&', others.Append($"{parameter.Name}={Uri.EscapeDataString(hostile)}"))}";
                using var response = await _client.GetAsync(url);
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query.Id}.{parameter.Name} answered {(int)response.StatusCode}");
            }
        }

        Assert.Equal(before, await WorkforceDatabase.ChecksumAsync(_database));
    }

    [Fact]
    public async Task A_statement_timeout_is_a_504_problem_and_leaks_no_connection()
    {
        var pooled = new Npgsql.NpgsqlConnectionStringBuilder(_database) { MaxPoolSize = 2, Timeout = 5 }.ConnectionString;
        await using var factory = new ApiFactory(pooled, infrastructure.Redis.ConnectionString, settings: new()
        {
            ["Queries:StatementTimeoutMsByQuery:employment-by-sector-quarter"] = "1",
        });
        using var client = factory.CreateClient();

        for (var i = 0; i < 5; i++)
        {
            using var response = await client.GetAsync("/api/v1/queries/employment-by-sector-quarter?from=2015-01-01&to=2025-12-31");
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Equal("Query timed out", problem.GetProperty("title").GetString());
        }
        using var after = await client.GetAsync("/api/v1/queries/employer-profile?employerId=1");

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}
