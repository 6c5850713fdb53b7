using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AspirePerf.ApiService.Apis;
using AspirePerf.Performance.Orchestration;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Queries;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The analyses API against a seeded database and the real cache: every analysis runs complete and equals its steps'
/// queries run one by one; steps start only after their dependencies; limits hold; a failing or timed-out step skips
/// exactly its dependents; a client that goes away stops the run; one analysis is checked by hand on a tiny dataset.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class AnalysesApiTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private string _database = null!;
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(AnalysesApiTests), seed: 9, scale: 20_000);
        _factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        _client = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    public static TheoryData<string, string> Analyses() => new()
    {
        { "sector-briefing", "sector=CON" },
        { "employer-profile", "employerId=100" },
        { "wage-gap-study", "" },
        { "vacancy-pressure", "" },
    };

    [Fact]
    public async Task The_registry_lists_every_analysis_with_its_parameter_schema_and_step_graph()
    {
        using var document = JsonDocument.Parse(await _client.GetStringAsync("/api/v1/analyses"));
        var analyses = document.RootElement.EnumerateArray().ToList();

        Assert.Equal(WorkforceAnalyses.All.Select(a => a.Id), analyses.Select(a => a.GetProperty("id").GetString()));
        Assert.True(analyses.Count >= 4);
        Assert.All(analyses, a => Assert.InRange(a.GetProperty("steps").GetArrayLength(), 4, 10));
        var profile = analyses.Single(a => a.GetProperty("id").GetString() == "employer-profile");
        var employerId = profile.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "employerId");
        Assert.True(employerId.GetProperty("required").GetBoolean());
        Assert.Equal("Integer", employerId.GetProperty("type").GetString());
        var wages = profile.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "sector-wages");
        Assert.Equal(["profile"], wages.GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal("step profile, column sector (first row)", wages.GetProperty("inputs").GetProperty("sector").GetString());
    }

    [Theory]
    [MemberData(nameof(Analyses))]
    public async Task Every_analysis_runs_complete_each_step_after_its_dependencies_and_is_cached_whole(string id, string query)
    {
        using var first = await _client.GetAsync($"/api/v1/analyses/{id}?{query}");
        var body = await first.Content.ReadAsStringAsync();
        Assert.True(first.StatusCode == HttpStatusCode.OK, body);
        using var report = JsonDocument.Parse(body);
        var root = report.RootElement;

        Assert.Equal("complete", root.GetProperty("status").GetString());
        Assert.Equal("complete", first.Headers.GetValues(AnalysesApi.StatusHeader).Single());
        Assert.Equal("MISS", first.Headers.GetValues("X-Cache").Single());
        Assert.Equal("in-process", root.GetProperty("mode").GetString());
        var steps = root.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("id").GetString()!);
        Assert.All(steps.Values, s => Assert.Equal("succeeded", s.GetProperty("status").GetString()));
        // Recorded timestamps: no step started before every dependency had ended (times are rounded to 0.01 ms).
        foreach (var step in steps.Values)
        {
            var started = step.GetProperty("startedMs").GetDouble();
            foreach (var dependency in step.GetProperty("dependsOn").EnumerateArray().Select(d => steps[d.GetString()!]))
            {
                var ended = dependency.GetProperty("startedMs").GetDouble() + dependency.GetProperty("elapsedMs").GetDouble();
                Assert.True(started >= ended - 0.02, $"{step.GetProperty("id")} started at {started} ms, before {dependency.GetProperty("id")} ended at {ended} ms");
            }
        }
        Assert.InRange(root.GetProperty("maxConcurrentSteps").GetInt32(), 1, new OrchestrationOptions().MaxParallelStepsPerAnalysis);
        Assert.True(root.GetProperty("criticalPathMs").GetDouble() <= root.GetProperty("serialMs").GetDouble());

        using var second = await _client.GetAsync($"/api/v1/analyses/{id}?{query}");
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("HIT", second.Headers.GetValues("X-Cache").Single());
        Assert.Equal(body, await second.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(Analyses))]
    public async Task Each_query_step_answers_what_its_query_answers_when_run_alone(string id, string query)
    {
        using var report = JsonDocument.Parse(await _client.GetStringAsync($"/api/v1/analyses/{id}?{query}"));

        foreach (var step in report.RootElement.GetProperty("steps").EnumerateArray().Where(s => s.GetProperty("kind").GetString() == "query"))
        {
            var parameters = string.Join("&", step.GetProperty("parameters").EnumerateObject()
                .Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value.GetString()!)}"));
            using var alone = JsonDocument.Parse(await _client.GetStringAsync($"/api/v1/queries/{step.GetProperty("queryId").GetString()}?{parameters}"));
            Assert.Equal(alone.RootElement.GetProperty("rows").GetRawText(), step.GetProperty("rows").GetRawText());
            Assert.Equal(alone.RootElement.GetProperty("columns").GetRawText(), step.GetProperty("columns").GetRawText());
        }
    }

    [Theory]
    [InlineData("employer-profile?employerId=abc", "employerId")]
    [InlineData("employer-profile", "employerId")]
    [InlineData("sector-briefing?sector=XYZ", "sector")]
    [InlineData("sector-briefing?sector=CON&from=2025-01-01&to=2024-01-01", "to")]
    [InlineData("wage-gap-study?bogus=1", "bogus")]
    [InlineData("wage-gap-study?deadlineMs=0", "deadlineMs")]
    [InlineData("wage-gap-study?deadlineMs=99999999999999999999", "deadlineMs")]
    [InlineData("wage-gap-study?deadlineMs=1&deadlineMs=2", "deadlineMs")]
    public async Task Invalid_parameters_are_a_400_problem_naming_each(string path, string parameter)
    {
        using var response = await _client.GetAsync("/api/v1/analyses/" + path);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(parameter, out _), problem.RootElement.GetRawText());
    }

    [Fact]
    public async Task An_unknown_analysis_is_a_404_problem()
    {
        using var response = await _client.GetAsync("/api/v1/analyses/no-such-analysis");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task A_step_whose_upstream_has_no_row_fails_and_skips_exactly_its_dependents_while_independent_steps_complete()
    {
        // No employer has this id: the profile is empty, so the three steps that need its sector fail; the history
        // (which needs only the id) still succeeds, and the summary, downstream of the failures, is skipped.
        using var response = await _client.GetAsync("/api/v1/analyses/employer-profile?employerId=2000000000");
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var steps = Statuses(report);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("partial", report.RootElement.GetProperty("status").GetString());
        Assert.Equal("partial", response.Headers.GetValues(AnalysesApi.StatusHeader).Single());
        Assert.Equal("succeeded", steps["profile"]);
        Assert.Equal("succeeded", steps["history"]);
        Assert.Equal("failed", steps["sector-wages"]);
        Assert.Equal("failed", steps["sector-growth"]);
        Assert.Equal("failed", steps["sector-headcount"]);
        Assert.Equal("skipped", steps["summary"]);
        var failed = report.RootElement.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "sector-wages");
        Assert.Contains("returned no rows", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("MISS", response.Headers.GetValues("X-Cache").Single()); // partial answers are never cached
    }

    [Fact]
    public async Task A_failing_query_step_skips_its_dependents_only()
    {
        var (factory, probe) = Probed();
        await using var _ = factory;
        using var client = factory.CreateClient();
        probe.Failures["turnover-by-sector-year"] = true;

        using var report = JsonDocument.Parse(await client.GetStringAsync("/api/v1/analyses/sector-briefing?sector=FIN"));
        var steps = Statuses(report);

        Assert.Equal("partial", report.RootElement.GetProperty("status").GetString());
        Assert.Equal("failed", steps["turnover"]);
        Assert.Equal("skipped", steps["briefing"]);
        Assert.All(new[] { "headcount", "wages", "hires", "top-employers", "leader-history" }, s => Assert.Equal("succeeded", steps[s]));
    }

    [Fact]
    public async Task A_step_past_its_timeout_is_timed_out_and_its_dependents_skipped()
    {
        var (factory, probe) = Probed(new() { ["Orchestration:StepTimeout"] = "00:00:02" });
        await using var _ = factory;
        using var client = factory.CreateClient();
        probe.Delays["top-employers-by-growth"] = TimeSpan.FromMinutes(5);

        using var report = JsonDocument.Parse(await client.GetStringAsync("/api/v1/analyses/sector-briefing?sector=TRN"));
        var steps = Statuses(report);

        Assert.Equal("timed_out", steps["top-employers"]);
        Assert.Equal("skipped", steps["leader-history"]);
        Assert.Equal("skipped", steps["briefing"]);
        Assert.All(new[] { "headcount", "wages", "hires", "turnover" }, s => Assert.Equal("succeeded", steps[s]));
        Assert.Contains("top-employers-by-growth", probe.Cancelled);
    }

    [Fact]
    public async Task A_deadline_times_out_what_is_still_running_and_no_step_succeeding_is_a_504_problem_with_the_report()
    {
        var (factory, probe) = Probed();
        await using var _ = factory;
        using var client = factory.CreateClient();
        foreach (var query in new[] { "gender-wage-gap", "workers-by-education", "wage-percentiles", "nationalization-share", "wage-histogram" })
        {
            probe.Delays[query] = TimeSpan.FromMinutes(5);
        }

        using var response = await client.GetAsync("/api/v1/analyses/wage-gap-study?deadlineMs=500");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("failed", response.Headers.GetValues(AnalysesApi.StatusHeader).Single());
        var report = problem.RootElement.GetProperty("report");
        Assert.Equal("failed", report.GetProperty("status").GetString());
        Assert.Equal(5, report.GetProperty("steps").EnumerateArray().Count(s => s.GetProperty("status").GetString() == "timed_out"));
        Assert.Equal("skipped", report.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "summary").GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_per_analysis_and_global_parallelism_limits_are_never_exceeded()
    {
        var (factory, probe) = Probed(new() { ["Orchestration:MaxParallelStepsPerAnalysis"] = "2", ["Orchestration:MaxParallelSteps"] = "3" });
        await using var _ = factory;
        using var client = factory.CreateClient();
        // Every query step holds its slot a while, so the limits, not the queries' speed, decide how many overlap.
        foreach (var query in WorkforceQueries.All.Select(q => q.Id))
        {
            probe.Delays[query] = TimeSpan.FromMilliseconds(150);
        }

        var runs = await Task.WhenAll(new[] { "wage-gap-study", "vacancy-pressure", "sector-briefing?sector=EDU" }
            .Select(async path => JsonDocument.Parse(await client.GetStringAsync("/api/v1/analyses/" + path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "deadlineMs=60000"))));

        Assert.All(runs, r => Assert.Equal("complete", r.RootElement.GetProperty("status").GetString()));
        Assert.All(runs, r => Assert.InRange(r.RootElement.GetProperty("maxConcurrentSteps").GetInt32(), 1, 2));
        Assert.InRange(probe.Peak, 2, 3);
        var telemetry = factory.Services.GetRequiredService<OrchestrationTelemetry>();
        Assert.InRange(telemetry.PeakRunning, 2, 3);
        Assert.Equal(0, telemetry.Running);
        Assert.Equal(3, factory.Services.GetRequiredService<AnalysisRunner>().GlobalLimit);
    }

    [Fact]
    public async Task A_client_that_goes_away_cancels_the_running_steps_and_nothing_downstream_starts()
    {
        var (factory, probe) = Probed();
        await using var _ = factory;
        using var client = factory.CreateClient();
        probe.Delays["top-employers-by-growth"] = TimeSpan.FromMinutes(5);

        using (var leave = new CancellationTokenSource())
        {
            var request = client.GetAsync("/api/v1/analyses/vacancy-pressure", leave.Token);
            await Eventually.TrueAsync(() => probe.Started.Contains("top-employers-by-growth"), TimeSpan.FromSeconds(30), "the growth step started");
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }

        await Eventually.TrueAsync(() => probe.Cancelled.Contains("top-employers-by-growth") && probe.Running == 0,
            TimeSpan.FromSeconds(10), "the held step was cancelled on the server");
        // Its dependents (the leader's profile, history and sector hires) never started.
        Assert.DoesNotContain("employer-profile", probe.Started);
        Assert.DoesNotContain("employer-headcount-history", probe.Started);
        Assert.Equal(0, factory.Services.GetRequiredService<OrchestrationTelemetry>().Running);
    }

    [Fact]
    public async Task The_employer_profile_of_the_hand_written_dataset_matches_the_hand_computed_answer()
    {
        var tiny = await infrastructure.CreateMigratedDatabaseAsync(nameof(AnalysesApiTests) + "_tiny");
        await WorkforceDatabase.ExecuteAsync(tiny, WorkforceDatabase.HandWrittenDataset);
        await using var factory = new ApiFactory(tiny, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var report = JsonDocument.Parse(await client.GetStringAsync("/api/v1/analyses/employer-profile?employerId=1&from=2025-01-01&to=2025-06-30&asOf=2025-06-30"));
        var summary = report.RootElement.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "summary");
        var rows = summary.GetProperty("rows").EnumerateArray().ToDictionary(r => r[0].GetString()!, r => r);

        Assert.Equal("complete", report.RootElement.GetProperty("status").GetString());
        // Employer 1 is 'A' in CON. Month ends Jan 31 .. Jun 30, 2025: spells 1, 2 (ends Jan 31) and 5 on Jan 31, then
        // spells 1 and 5 (5 ends Jun 30, which still counts): 3 → 2, −33.3 %.
        Assert.Equal("A", rows["employer"][2].GetString());
        Assert.Equal("CON", rows["sector"][2].GetString());
        Assert.Equal(3m, rows["headcount_first_month"][1].GetDecimal());
        Assert.Equal(2m, rows["headcount_last_month"][1].GetDecimal());
        Assert.Equal(-33.3m, rows["headcount_change_pct"][1].GetDecimal());
        // The only CON employer, so first of one on growth (3 → 2 between Jan 1 and Jun 30).
        Assert.Equal(1m, rows["growth_rank_in_sector"][1].GetDecimal());
        Assert.Equal(1m, rows["employers_ranked_in_sector"][1].GetDecimal());
        // CON at the quarter ends Mar 31 and Jun 30: spells 1 and 5 both times.
        Assert.Equal(0m, rows["sector_headcount_change_pct"][1].GetDecimal());
        // At Jun 30, CON's groups are managers (spell 1, 10,000) and cleaners (spell 5, 1,800), one employee each: the
        // employee-weighted median of the two group medians is the lower one.
        Assert.Equal(1800m, rows["sector_median_wage_weighted"][1].GetDecimal());
    }

    [Fact]
    public async Task Each_step_is_a_span_under_the_analysis_span_under_the_request_and_step_metrics_are_exported()
    {
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "AspirePerf" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        using var response = await _client.GetAsync("/api/v1/analyses/wage-gap-study?asOf=2024-06-30");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceId = response.Headers.GetValues("X-Trace-Id").Single();

        var trace = spans.Where(a => a.TraceId.ToString() == traceId).ToList();
        var analysis = Assert.Single(trace, a => a.OperationName == "analysis wage-gap-study");
        var request = Assert.Single(trace, a => a.Source.Name == "Microsoft.AspNetCore");
        Assert.Equal(request.SpanId, analysis.ParentSpanId);
        var steps = trace.Where(a => a.OperationName.StartsWith("step ", StringComparison.Ordinal)).ToList();
        Assert.Equal(WorkforceAnalyses.All.Single(a => a.Id == "wage-gap-study").Steps.Select(s => "step " + s.Id).Order(), steps.Select(s => s.OperationName).Order());
        Assert.All(steps, s => Assert.Equal(analysis.SpanId, s.ParentSpanId));
        Assert.All(steps, s => Assert.Equal("succeeded", s.GetTagItem("aspireperf.analysis.step.status")));

        var metrics = await Eventually.ReturnsAsync(() => _client.GetStringAsync("/metrics"),
            body => body.Contains("aspireperf_analysis_step_duration_seconds_bucket", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "step histogram");
        Assert.Contains("analysis=\"wage-gap-study\"", metrics, StringComparison.Ordinal);
        Assert.Contains("step=\"gender-gap\"", metrics, StringComparison.Ordinal);
        Assert.Contains("aspireperf_analysis_steps_running", metrics, StringComparison.Ordinal);
        Assert.Contains("aspireperf_analysis_runs_total", metrics, StringComparison.Ordinal);
    }

    private (ApiFactory Factory, ProbedStepRunner Probe) Probed(Dictionary<string, string>? settings = null)
    {
        ProbedStepRunner? probe = null;
        var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: settings, services: services =>
            services.AddSingleton<IQueryStepRunner>(sp => probe = new ProbedStepRunner(sp.GetRequiredService<CachedQueryStepRunner>())));
        _ = factory.Services.GetRequiredService<IQueryStepRunner>();
        return (factory, probe!);
    }

    private static Dictionary<string, string> Statuses(JsonDocument report) => report.RootElement.GetProperty("steps").EnumerateArray()
        .ToDictionary(s => s.GetProperty("id").GetString()!, s => s.GetProperty("status").GetString()!);
}
