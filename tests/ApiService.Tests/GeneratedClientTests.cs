using AspirePerf.ApiClient;
using AspirePerf.ApiClient.Models;
using AspirePerf.TestSupport;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;
using WageHistogramSector = AspirePerf.ApiClient.Api.V1.Queries.WageHistogram.GetSectorQueryParameterType;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The C# client Kiota generates on build from the API's document (ApiClient/), against the running API and real
/// PostgreSQL and Redis: every read operation answers its typed model with the values the database holds, and problems
/// surface as the typed errors the document names (a 400 as a validation problem naming the parameter).
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class GeneratedClientTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string ReaderKey = "dev-reader-key-not-for-production";
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private ApiFactory _factory = null!;

    public async Task InitializeAsync()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("generatedclient", scale: 2_000);
        // The job queue's schema, which the Worker creates at start in a deployment.
        await using (var dataSource = Npgsql.NpgsqlDataSource.Create(database))
        {
            await AspirePerf.Performance.Jobs.JobSchema.MigrateAsync(dataSource, CancellationToken.None);
        }
        _factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: new()
        {
            // Every request profiled and every statement "slow", so the profile and slow-query reads have something to show.
            ["Profiling:PlainRequestSampling"] = "1",
            ["Profiling:SlowQueryThresholdMs"] = "0",
        });
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    private AspirePerfApiClient Client(string? key = null)
    {
        var http = _factory.CreateDefaultClient(new HeadersInspectionHandler());
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
        return AspirePerfApiClientFactory.Create(http);
    }

    [Fact]
    public async Task Every_read_operation_answers_its_typed_model()
    {
        var api = Client().Api.V1;

        // System
        var health = await api.System.Resources.GetAsync();
        Assert.Equal(["postgres", "cache", "apiservice", "worker"], health!.Resources!.Select(r => r.Name));
        Assert.Equal("Healthy", health.Resources![0].Status);
        var workload = await api.System.Workload.GetAsync();
        Assert.Equal(2_000, workload!.Scale);
        Assert.True(workload.Rows > 0);
        var constant = await api.System.Constant.GetAsync(c => c.QueryParameters.Bytes = 64);
        Assert.Equal(64 - 14, constant!.Padding!.Length);

        // Queries: the listing, the generic operation with parameters chosen at run time, every typed one, and streams.
        var queries = await api.Queries.GetAsync();
        Assert.Contains(queries!, q => q.Id == "wage-histogram" && q.Kind == QueryKind.Aggregate
            && q.Parameters!.Any(p => p.Name == "bucketWidth" && p.Type == QueryParameterType.Integer && p.Minimum == 100));
        var headers = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
        var generic = await api.Queries["nationalization-share"].WithParameters([new("asOf", "2024-12-31")]).GetAsync(c => c.Options.Add(headers));
        Assert.Equal("nationalization-share", generic!.QueryId);
        Assert.Equal("sector", generic.Columns![0].Name);
        Assert.True(generic.RowCount > 0);
        Assert.Equal(generic.RowCount, Rows(generic).Count);
        Assert.IsType<UntypedString>(Rows(generic)[0][0]);
        // Kiota reads additional data that looks like a date as a DateTime.
        Assert.Equal(new DateTime(2024, 12, 31), Assert.IsType<DateTime>(generic.Parameters!.AdditionalData["asOf"]).Date);
        Assert.True(double.Parse(headers.ResponseHeaders["X-Exec-Time"].Single(), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        var traceId = headers.ResponseHeaders["X-Trace-Id"].Single();

        var histogram = await api.Queries.WageHistogram.GetAsync(c =>
        {
            c.QueryParameters.AsOf = new Date(2024, 12, 31);
            c.QueryParameters.Sector = WageHistogramSector.FIN;
            c.QueryParameters.BucketWidth = 5_000;
        });
        Assert.Equal("FIN", histogram!.Parameters!.AdditionalData["sector"]);
        AssertRan("wage-histogram", histogram);
        AssertRan("employment-by-sector-quarter", await api.Queries.EmploymentBySectorQuarter.GetAsync());
        AssertRan("wage-percentiles", await api.Queries.WagePercentiles.GetAsync());
        AssertRan("nationalization-share", await api.Queries.NationalizationShare.GetAsync());
        AssertRan("vacancy-time-to-fill", await api.Queries.VacancyTimeToFill.GetAsync());
        AssertRan("turnover-by-sector-year", await api.Queries.TurnoverBySectorYear.GetAsync());
        AssertRan("gender-wage-gap", await api.Queries.GenderWageGap.GetAsync());
        AssertRan("top-employers-by-growth", await api.Queries.TopEmployersByGrowth.GetAsync());
        AssertRan("region-sector-heatmap", await api.Queries.RegionSectorHeatmap.GetAsync());
        AssertRan("employer-headcount-history", await api.Queries.EmployerHeadcountHistory.GetAsync(c => c.QueryParameters.EmployerId = 1));
        AssertRan("employer-profile", await api.Queries.EmployerProfile.GetAsync(c => c.QueryParameters.EmployerId = 1));
        AssertRan("workers-by-education", await api.Queries.WorkersByEducation.GetAsync());
        AssertRan("new-hires-per-month", await api.Queries.NewHiresPerMonth.GetAsync());
        var firstPage = await api.Queries.EmploymentSpells.GetAsync(c => c.QueryParameters.Limit = 5);
        AssertRan("employment-spells", firstPage);
        Assert.Equal(5, firstPage!.RowCount);
        var secondPage = await api.Queries.EmploymentSpells.GetAsync(c => { c.QueryParameters.Limit = 5; c.QueryParameters.Cursor = firstPage.NextCursor; });
        Assert.Equal(5, secondPage!.RowCount);

        var streamed = await api.Queries.WorkersByEducation.Rows.GetAsync();
        var buffered = await api.Queries.WorkersByEducation.GetAsync();
        Assert.Equal(buffered!.RowCount, streamed!.Count);
        Assert.All(streamed, row => Assert.False(string.IsNullOrEmpty(row.Education)));
        var spells = await api.Queries.EmploymentSpells.Rows.GetAsync(c => c.QueryParameters.Cursor = firstPage.NextCursor);
        Assert.Equal(Rows(secondPage).Select(r => (long)((UntypedInteger)r[0]).GetValue()), spells!.Take(5).Select(s => s.SpellId!.Value));
        var genericStream = await api.Queries["wage-percentiles"].Rows.GetAsync();
        Assert.NotEmpty(genericStream!);

        // Analyses
        var analyses = await api.Analyses.GetAsync();
        Assert.Contains(analyses!, a => a.Id == "sector-briefing" && a.Steps!.Count > 1);
        var briefing = await api.Analyses.SectorBriefing.GetAsync(c => c.QueryParameters.Sector = AspirePerf.ApiClient.Api.V1.Analyses.SectorBriefing.GetSectorQueryParameterType.FIN);
        Assert.Equal(AnalysisStatus.Complete, briefing!.Status);
        Assert.All(briefing.Steps!, s => Assert.Equal(StepStatus.Succeeded, s.Status));
        Assert.Equal(AnalysisStatus.Complete, (await api.Analyses.EmployerProfile.GetAsync(c => c.QueryParameters.EmployerId = 1))!.Status);
        Assert.Equal(AnalysisStatus.Complete, (await api.Analyses.WageGapStudy.GetAsync())!.Status);
        Assert.Equal(AnalysisStatus.Complete, (await api.Analyses.VacancyPressure.GetAsync())!.Status);
        Assert.Equal("wage-gap-study", (await api.Analyses["wage-gap-study"].GetAsync(c => c.QueryParameters.DeadlineMs = 20_000))?.AnalysisId);

        // Performance
        var cache = await api.Perf.Cache.GetAsync();
        Assert.True(cache!.Profiles!.Count > 0);
        Assert.NotNull((await api.Perf.Compression.GetAsync())!.Enabled);
        Assert.NotNull(await api.Perf.Statements.GetAsync(c => c.QueryParameters.OrderBy = "mean"));
        var endpoints = await api.Perf.Endpoints.GetAsync();
        Assert.Contains(endpoints!.Endpoints!, e => e.Route == "GET /api/v1/queries/{id}" && e.Count > 0);
        Assert.True((await api.Perf.Endpoints.Slowest.GetAsync(c => c.QueryParameters.Limit = 2))!.Endpoints!.Count <= 2);
        Assert.NotNull(await api.Perf.Insights.GetAsync());
        // No worker runs here, so the overall status is critical with the worker's row first; every statement counts as slow.
        var dashboard = await api.Perf.Dashboard.GetAsync();
        Assert.Equal(OverallStatus.Critical, dashboard!.Status);
        Assert.Equal(ReasonSeverity.Critical, dashboard.Reasons![0].Severity);
        Assert.Contains(dashboard.Reasons, r => r.Code == "resource-unhealthy" && r.Subject == "worker" && r.Link == "/resources");
        Assert.Contains(dashboard.Reasons, r => r.Code == "slow-statements" && r.Severity == ReasonSeverity.Warning);
        Assert.True(dashboard.Numbers!.SlowStatements > 0);
        Assert.NotNull(await api.Perf.Findings.GetAsync());
        Assert.True((await api.Perf.Profiling.GetAsync())!.Enabled);
        var profile = await api.Perf.Requests[traceId].GetAsync();
        Assert.Equal(traceId, profile!.TraceId);
        Assert.NotEmpty(profile.Commands!);
        var slow = await api.Perf.Queries.Slow.GetAsync(c => c.QueryParameters.Limit = 500);
        Assert.NotEmpty(slow!);
        var plan = await api.Perf.Queries[slow![0].Fingerprint!].Plan.GetAsync();
        Assert.Equal(slow[0].Fingerprint, plan!.Fingerprint);
        Assert.NotNull((await api.Perf.Indexes.Advice.GetAsync())!.Statements);

        // Jobs (one enqueued with a reader key, as the document says enqueueing needs) and the audit trail (operator).
        var job = await Client(ReaderKey).Api.V1.Jobs.PostAsync(new EnqueueJobRequest { Type = "cache-warm", Payload = new UntypedObject(new Dictionary<string, UntypedNode>()) });
        Assert.Equal(JobState.Available, job!.State);
        Assert.Contains("cache-warm", (await api.Jobs.Types.GetAsync())!);
        Assert.Contains((await api.Jobs.GetAsync(c => c.QueryParameters.Type = "cache-warm"))!.Items!, j => j.Id == job.Id);
        Assert.NotNull((await api.Jobs.Stats.GetAsync(c => c.QueryParameters.WindowSeconds = 60))!.ByState);
        Assert.Equal(job.Id, (await api.Jobs[job.Id!.Value].GetAsync())!.Id);
        var notYet = await Assert.ThrowsAsync<ProblemDetails>(() => api.Jobs[job.Id!.Value].Result.GetAsync());
        Assert.Equal(409, notYet.ResponseStatusCode);
        var audit = await Client(OperatorKey).Api.V1.Audit.GetAsync(c => c.QueryParameters.Limit = 10);
        Assert.Contains(audit!.Entries!, e => e.Action == "POST /api/v1/jobs" && e.Actor == "dev-reader");
    }

    [Fact]
    public async Task Problems_surface_as_the_typed_errors_the_document_names()
    {
        var api = Client().Api.V1;

        // 400: a validation problem, each bad parameter named with its rule.
        var invalid = await Assert.ThrowsAsync<HttpValidationProblemDetails>(() => api.Queries.WageHistogram.GetAsync(c => c.QueryParameters.BucketWidth = 5));
        Assert.Equal(400, invalid.ResponseStatusCode);
        Assert.Equal(400, invalid.Status);
        Assert.Contains("100", Assert.Single(invalid.ErrorsByParameter()["bucketWidth"]), StringComparison.Ordinal);
        var generic = await Assert.ThrowsAsync<HttpValidationProblemDetails>(() =>
            api.Queries["wage-histogram"].WithParameters([new("bucketWidth", "5"), new("asOf", "yesterday")]).GetAsync());
        Assert.Equal(["asOf", "bucketWidth"], generic.ErrorsByParameter().Keys.Order(StringComparer.Ordinal));

        // 404: a problem document with its title.
        var unknown = await Assert.ThrowsAsync<ProblemDetails>(() => api.Queries["no-such-query"].GetAsync());
        Assert.Equal(404, unknown.ResponseStatusCode);
        Assert.Equal("Unknown query", unknown.Title);
        Assert.Equal(404, (await Assert.ThrowsAsync<ProblemDetails>(() => api.Jobs[987_654_321].GetAsync())).Status);

        // 401/403: the operator's endpoints without a key, and with a reader's.
        var anonymous = await Assert.ThrowsAsync<ProblemDetails>(() => api.Audit.GetAsync());
        Assert.Equal(401, anonymous.ResponseStatusCode);
        var reader = await Assert.ThrowsAsync<ProblemDetails>(() => Client(ReaderKey).Api.V1.Audit.GetAsync());
        Assert.Equal(403, reader.ResponseStatusCode);
    }

    private static void AssertRan(string queryId, QueryResponse? response)
    {
        Assert.NotNull(response);
        Assert.Equal(queryId, response.QueryId);
        Assert.NotEmpty(response.Columns!);
        Assert.Equal(response.RowCount, Rows(response).Count);
    }

    /// <summary>Rows are arrays of untyped JSON values, one per column.</summary>
    private static List<List<UntypedNode>> Rows(QueryResponse response) =>
        [.. Assert.IsType<UntypedArray>(response.Rows).GetValue().Select(row => Assert.IsType<UntypedArray>(row).GetValue().ToList())];
}
