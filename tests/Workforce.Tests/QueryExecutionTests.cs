using AspirePerf.Performance.Database.Queries;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Queries;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.Workforce.Tests;

/// <summary>Every registered query against a seeded database, and against a tiny hand-written one with known answers.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class QueryExecutionTests(QueryExecutionTests.Databases databases) : IClassFixture<QueryExecutionTests.Databases>
{
    private static readonly QueryRegistry Registry = new(WorkforceQueries.All);
    private readonly string _seeded = databases.Seeded;
    private readonly string _handWritten = databases.HandWritten;

    [Fact]
    public void The_registry_has_at_least_twelve_queries_with_point_lookups_and_aggregates()
    {
        Assert.True(Registry.All.Count >= 12);
        Assert.Contains(Registry.All, q => q.Kind == QueryKind.PointLookup);
        Assert.Contains(Registry.All, q => q.Kind == QueryKind.Aggregate);
        Assert.Equal(Registry.All.Count, Registry.All.Select(q => q.Id).Distinct().Count());
        Assert.All(Registry.All, q => Assert.All(q.Parameters, p => Assert.Contains("@" + p.Name, q.Sql, StringComparison.Ordinal)));
    }

    public static TheoryData<string> QueryIds() => [.. WorkforceQueries.All.Select(q => q.Id)];

    [Theory]
    [MemberData(nameof(QueryIds))]
    public async Task Every_query_runs_on_a_seeded_database_and_returns_its_declared_columns(string id)
    {
        var query = Registry.Find(id)!;
        var supplied = query.Parameters.Where(p => p.Required).Select(p => Raw(p.Name, "1"));

        var result = await RunAsync(_seeded, id, supplied);

        Assert.Equal(query.Columns, result.Columns);
        Assert.NotEmpty(result.Rows);
    }

    [Fact]
    public async Task Nationalization_share_counts_citizens_among_active_employees()
    {
        var result = await RunAsync(_handWritten, "nationalization-share", [Raw("asOf", "2025-06-30")]);

        Assert.Equal([["CON", 2L, 2L, 1.0000m], ["FIN", 2L, 1L, 0.5000m]], result.Rows);
    }

    [Fact]
    public async Task Workers_by_education_counts_active_spells_with_their_mean_wage()
    {
        var result = await RunAsync(_handWritten, "workers-by-education", [Raw("asOf", "2025-06-30")]);

        Assert.Equal(
            [["none", "citizen", 1L, 1800.00m], ["secondary", "expatriate", 1L, 2500.00m], ["bachelor", "citizen", 1L, 10000.00m], ["master", "citizen", 1L, 20000.00m]],
            result.Rows);
    }

    [Fact]
    public async Task Region_sector_heatmap_counts_active_spells_by_the_employers_region_and_sector()
    {
        var result = await RunAsync(_handWritten, "region-sector-heatmap", [Raw("asOf", "2025-06-30")]);

        Assert.Equal([["CAP", "CON", 2L], ["COA", "FIN", 2L]], result.Rows);
    }

    [Fact]
    public async Task New_hires_per_month_counts_spell_starts()
    {
        var result = await RunAsync(_handWritten, "new-hires-per-month", [Raw("from", "2025-01-01"), Raw("to", "2025-12-31")]);

        Assert.Equal([[new DateOnly(2025, 2, 1), 1L], [new DateOnly(2025, 6, 1), 1L], [new DateOnly(2025, 7, 1), 1L]], result.Rows);
    }

    [Fact]
    public async Task Vacancy_time_to_fill_averages_the_filled_vacancies_of_the_year_range()
    {
        var result = await RunAsync(_handWritten, "vacancy-time-to-fill", [Raw("fromYear", "2024"), Raw("toYear", "2024")]);

        Assert.Equal(
            [["1120", "Managers", 1L, 1L, 60.0m, 60.0m], ["9111", "Cleaners", 3L, 2L, 20.0m, 20.0m]],
            result.Rows);
    }

    [Fact]
    public async Task Employer_headcount_history_counts_spells_active_at_each_month_end()
    {
        var result = await RunAsync(_handWritten, "employer-headcount-history",
            [Raw("employerId", "1"), Raw("from", "2025-01-01"), Raw("to", "2025-03-31")]);

        Assert.Equal([[new DateOnly(2025, 1, 31), 3L], [new DateOnly(2025, 2, 28), 2L], [new DateOnly(2025, 3, 31), 2L]], result.Rows);
    }

    [Fact]
    public async Task Turnover_by_sector_year_counts_each_spell_in_every_year_it_overlaps()
    {
        // 2023 CON: spells 1 and 5 overlap, 5 starts; both active on 1 July. 2024 CON: 1, 2 and 5, 2 starts, none ends.
        // 2025 CON: 1, 2, 5 and 6; 6 starts, 2 and 5 end (before 1 July), so 1 and 6 are the mid-year headcount.
        // 2025 FIN: 3 and 4 start and stay. FIN has no spell before 2025, so no row for 2023 or 2024.
        var result = await RunAsync(_handWritten, "turnover-by-sector-year", [Raw("fromYear", "2023"), Raw("toYear", "2025")]);

        Assert.Equal(
            [["CON", 2023, 1L, 0L, 2L, 0.0000m], ["CON", 2024, 1L, 0L, 3L, 0.0000m], ["CON", 2025, 1L, 2L, 2L, 1.0000m], ["FIN", 2025, 2L, 0L, 2L, 0.0000m]],
            result.Rows);
    }

    [Fact]
    public async Task Top_employers_by_growth_ranks_by_headcount_change()
    {
        var result = await RunAsync(_handWritten, "top-employers-by-growth",
            [Raw("from", "2025-01-01"), Raw("to", "2025-06-30"), Raw("minHeadcount", "0")]);

        Assert.Equal([[2, "B", "FIN", 0L, 2L, 2L, null], [1, "A", "CON", 3L, 2L, -1L, -33.3m]], result.Rows);
    }

    [Fact]
    public async Task A_query_past_its_statement_timeout_is_cancelled_and_its_connection_returns_to_the_pool()
    {
        // Two connections at most: a leaked connection per timeout would exhaust the pool by the third attempt.
        var builder = new NpgsqlConnectionStringBuilder(_seeded) { MaxPoolSize = 2, Timeout = 5 };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        var executor = new QueryExecutor(dataSource, Options.Create(new QueryExecutionOptions
        {
            StatementTimeoutMsByQuery = { ["employment-by-sector-quarter"] = 1 },
        }));
        var heavy = Registry.Find("employment-by-sector-quarter")!;
        var (values, _) = QueryParameterBinder.Bind(heavy, [Raw("from", "2015-01-01"), Raw("to", "2025-12-31")]);

        for (var i = 0; i < 5; i++)
        {
            var error = await Assert.ThrowsAsync<QueryTimeoutException>(() => executor.ExecuteAsync(heavy, values!, CancellationToken.None));
            Assert.Equal(1, error.TimeoutMs);
        }
        var profile = Registry.Find("employer-profile")!;
        var (profileValues, _) = QueryParameterBinder.Bind(profile, [Raw("employerId", "1")]);
        var after = await executor.ExecuteAsync(profile, profileValues!, CancellationToken.None);

        Assert.Equal(1, after.RowCount);
    }

    [Fact]
    public async Task Queries_run_read_only()
    {
        await using var dataSource = NpgsqlDataSource.Create(_handWritten);
        var executor = new QueryExecutor(dataSource, Options.Create(new QueryExecutionOptions()));
        var write = new QueryDefinition("write-attempt", "Write attempt", "Must be refused.", QueryKind.PointLookup, "DELETE FROM vacancies RETURNING id");

        var error = await Assert.ThrowsAsync<PostgresException>(() =>
            executor.ExecuteAsync(write, new BoundParameters(new Dictionary<string, object?>()), CancellationToken.None));

        Assert.Equal("25006", error.SqlState); // read_only_sql_transaction
        Assert.Equal(5, await WorkforceDatabase.CountAsync(_handWritten, "vacancies"));
    }

    [Fact]
    public async Task A_querys_declared_jit_holds_for_its_transaction_only()
    {
        // One connection, so the next query reuses the session the declared setting ran on.
        var builder = new NpgsqlConnectionStringBuilder(_handWritten) { MaxPoolSize = 1 };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        var executor = new QueryExecutor(dataSource, Options.Create(new QueryExecutionOptions()));
        var probe = new QueryDefinition("jit-probe", "JIT probe", "The transaction's jit setting.", QueryKind.PointLookup, "SELECT current_setting('jit') AS jit");
        var none = new BoundParameters(new Dictionary<string, object?>());

        var server = await executor.ExecuteAsync(probe, none, CancellationToken.None);
        var on = await executor.ExecuteAsync(probe with { Jit = true }, none, CancellationToken.None);
        var off = await executor.ExecuteAsync(probe with { Jit = false }, none, CancellationToken.None);
        var after = await executor.ExecuteAsync(probe, none, CancellationToken.None);

        Assert.Equal("on", server.Rows[0][0]); // stock PostgreSQL
        Assert.Equal("off", off.Rows[0][0]);
        Assert.Equal("on", on.Rows[0][0]);
        Assert.Equal("on", after.Rows[0][0]);
        Assert.False(Registry.Find("turnover-by-sector-year")!.Jit);
    }

    private async Task<QueryResult> RunAsync(string connectionString, string id, IEnumerable<KeyValuePair<string, IReadOnlyList<string?>>> raw)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var executor = new QueryExecutor(dataSource, Options.Create(new QueryExecutionOptions()));
        var query = Registry.Find(id)!;
        var (values, errors) = QueryParameterBinder.Bind(query, raw);
        Assert.True(values is not null, string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")));
        return await executor.ExecuteAsync(query, values, CancellationToken.None);
    }

    private static KeyValuePair<string, IReadOnlyList<string?>> Raw(string name, string value) => new(name, [value]);

    /// <summary>
    /// The seeded and the hand-written database, made once for the class: its tests only read them (the queries run in
    /// read-only transactions, and Queries_run_read_only checks that a write is refused and changed nothing).
    /// </summary>
    public sealed class Databases(InfrastructureFixture infrastructure) : IAsyncLifetime
    {
        public string Seeded { get; private set; } = null!;

        public string HandWritten { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Seeded = await infrastructure.CreateSeededDatabaseAsync("queries_seeded", seed: 11, scale: 6_000);
            HandWritten = await infrastructure.CreateMigratedDatabaseAsync("queries_tiny");
            await WorkforceDatabase.ExecuteAsync(HandWritten, WorkforceDatabase.HandWrittenDataset);
        }

        public Task DisposeAsync() => Task.CompletedTask;
    }
}
