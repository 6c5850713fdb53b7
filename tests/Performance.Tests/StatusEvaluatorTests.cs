using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Health;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Performance.Profiling;

namespace AspirePerf.Performance.Tests;

/// <summary>Thresholds → reasons → status, without a host: one signal at a time, then the ordering of several.</summary>
public sealed class StatusEvaluatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly PerfDashboardOptions Defaults = new();

    private static readonly CacheStatisticsSnapshot NoCache = new(true, 0, 0, 0, 0, 0, 0, 0, 1024, new Dictionary<string, long>(), 0, []);

    private static StatusSignals Quiet() => new(
        Now,
        [new("postgres", "Healthy", null), new("cache", "Healthy", null), new("worker", "Healthy", null)],
        RedisCircuit.Closed,
        [],
        null,
        60,
        [],
        NoCache,
        new JobBacklogSignal(0, 0, null, 0),
        null,
        new PoolSignal(1, 100),
        new AnalysisOutcomeCounts(3, 0, 0),
        []);

    private static EndpointStatisticsEntry Endpoint(string route, long count, double p95Ms, double errorRate = 0) =>
        new(route, count, errorRate, p95Ms / 2, p95Ms / 2, p95Ms, p95Ms, p95Ms, p95Ms, 1);

    [Fact]
    public void Nothing_wrong_is_healthy_with_no_reason()
    {
        var report = StatusEvaluator.Evaluate(Quiet(), Defaults);

        Assert.Equal(OverallStatus.Healthy, report.Status);
        Assert.Empty(report.Reasons);
        Assert.Equal(Now, report.CheckedAt);
        Assert.Equal(1, report.Numbers.PoolBusy);
        Assert.Equal(0, report.Numbers.JobsWaiting);
        Assert.Null(report.Numbers.CacheHitRatio);
    }

    public static TheoryData<string, Func<StatusSignals, StatusSignals>, string, ReasonSeverity, string> Rules() => new()
    {
        // name, change to the quiet signals, code, severity, link
        { "postgres unhealthy", s => s with { Resources = [new("postgres", "Unhealthy", "refused")] }, "resource-unhealthy", ReasonSeverity.Critical, "/resources" },
        { "worker degraded", s => s with { Resources = [new("worker", "Degraded", "slow")] }, "resource-degraded", ReasonSeverity.Warning, "/resources" },
        { "redis unhealthy", s => s with { Resources = [new("cache", "Unhealthy", "no connection")] }, "redis-unavailable", ReasonSeverity.Critical, "/resources" },
        { "circuit open", s => s with { RedisCircuit = RedisCircuit.Open }, "redis-circuit-open", ReasonSeverity.Critical, "/cache" },
        { "circuit half-open", s => s with { RedisCircuit = RedisCircuit.HalfOpen }, "redis-circuit-open", ReasonSeverity.Warning, "/cache" },
        { "p95 over the warning", s => s with { Endpoints = [Endpoint("GET /a", 50, 800)] }, "endpoint-slow", ReasonSeverity.Warning, "/endpoints?route=GET%20%2Fa" },
        { "p95 over the critical", s => s with { Endpoints = [Endpoint("GET /a", 50, 2500)] }, "endpoint-slow", ReasonSeverity.Critical, "/endpoints?route=GET%20%2Fa" },
        { "2 % errors", s => s with { Endpoints = [Endpoint("GET /a", 100, 10, 0.02)] }, "endpoint-errors", ReasonSeverity.Warning, "/endpoints?route=GET%20%2Fa" },
        { "10 % errors", s => s with { Endpoints = [Endpoint("GET /a", 100, 10, 0.10)] }, "endpoint-errors", ReasonSeverity.Critical, "/endpoints?route=GET%20%2Fa" },
        { "recent N+1", s => s with { Findings = [new("t1", "GET /b", "f1", "SELECT ?", 10, 5, Now.AddMinutes(-1))] }, "n-plus-one", ReasonSeverity.Warning, "/endpoints?route=GET%20%2Fb" },
        { "low hit ratio", s => s with { Cache = NoCache with { Profiles = [new("aggregate", 0.1, 10, 0, 90, 0, 0, 0)] } }, "cache-hit-ratio-low", ReasonSeverity.Warning, "/cache?profile=aggregate" },
        { "job waiting 2 min", s => s with { Jobs = new(1, 0, Now.AddMinutes(-2), 0) }, "job-backlog-old", ReasonSeverity.Warning, "/jobs?state=available" },
        { "job waiting 11 min", s => s with { Jobs = new(1, 0, Now.AddMinutes(-11), 0) }, "job-backlog-old", ReasonSeverity.Critical, "/jobs?state=available" },
        { "discarded job", s => s with { Jobs = new(0, 0, null, 2) }, "jobs-discarded", ReasonSeverity.Warning, "/jobs?state=discarded" },
        { "queue unreadable", s => s with { Jobs = null, JobsError = "refused" }, "job-queue-unreadable", ReasonSeverity.Critical, "/jobs" },
        { "pool 85 % busy", s => s with { Pool = new(85, 100) }, "pool-saturated", ReasonSeverity.Warning, "/database" },
        { "pool full", s => s with { Pool = new(100, 100) }, "pool-saturated", ReasonSeverity.Critical, "/database" },
        { "partial analysis", s => s with { Analyses = new(3, 1, 0) }, "analysis-failures", ReasonSeverity.Warning, "/analyses" },
        { "recent slow statement", s => s with { SlowQueries = [Slow(Now.AddMinutes(-1))] }, "slow-statements", ReasonSeverity.Warning, "/database" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Each_rule_gives_its_reason_severity_and_link(string name, Func<StatusSignals, StatusSignals> change, string code, ReasonSeverity severity, string link)
    {
        var report = StatusEvaluator.Evaluate(change(Quiet()), Defaults);

        var reason = Assert.Single(report.Reasons);
        Assert.True(reason.Code == code, $"{name}: {reason.Code}");
        Assert.Equal(severity, reason.Severity);
        Assert.Equal(link, reason.Link);
        Assert.Equal(severity == ReasonSeverity.Critical ? OverallStatus.Critical : OverallStatus.Warning, report.Status);
        Assert.Contains(code, StatusEvaluator.Codes);
        Assert.False(string.IsNullOrWhiteSpace(reason.Title));
        Assert.False(string.IsNullOrWhiteSpace(reason.Detail));
    }

    public static TheoryData<string, Func<StatusSignals, StatusSignals>> Quiet_below_thresholds() => new()
    {
        { "slow, but too few requests", s => s with { Endpoints = [Endpoint("GET /a", 9, 5000, 1)] } },
        { "p95 at the threshold", s => s with { Endpoints = [Endpoint("GET /a", 50, 500)] } },
        { "an old N+1", s => s with { Findings = [new("t1", "GET /b", "f1", "SELECT ?", 10, 5, Now.AddMinutes(-6))] } },
        { "low hit ratio, few lookups", s => s with { Cache = NoCache with { Profiles = [new("aggregate", 0.1, 1, 0, 9, 0, 0, 0)] } } },
        { "low hit ratio, cache off", s => s with { Cache = NoCache with { Enabled = false, Profiles = [new("aggregate", 0.1, 10, 0, 90, 0, 0, 0)] } } },
        { "a job due 30 s ago", s => s with { Jobs = new(1, 0, Now.AddSeconds(-30), 0) } },
        { "pool 79 % busy", s => s with { Pool = new(79, 100) } },
        { "no pool reading", s => s with { Pool = null } },
        { "an old slow statement", s => s with { SlowQueries = [Slow(Now.AddMinutes(-6))] } },
        { "circuit absent", s => s with { RedisCircuit = RedisCircuit.Absent } },
    };

    [Theory]
    [MemberData(nameof(Quiet_below_thresholds))]
    public void Below_a_threshold_or_outside_the_window_stays_healthy(string name, Func<StatusSignals, StatusSignals> change)
    {
        var report = StatusEvaluator.Evaluate(change(Quiet()), Defaults);

        Assert.True(report.Status == OverallStatus.Healthy, $"{name}: {string.Join("; ", report.Reasons.Select(r => r.Code + " " + r.Detail))}");
    }

    [Fact]
    public void Critical_reasons_come_first_then_by_code_order_then_subject()
    {
        var signals = Quiet() with
        {
            Resources = [new("worker", "Unhealthy", "unreachable"), new("postgres", "Degraded", "slow")],
            Endpoints = [Endpoint("GET /z", 50, 800), Endpoint("GET /a", 50, 3000), Endpoint("GET /m", 50, 900)],
            Analyses = new(0, 0, 2),
        };

        var report = StatusEvaluator.Evaluate(signals, Defaults);

        Assert.Equal(OverallStatus.Critical, report.Status);
        Assert.Equal(
            ["resource-unhealthy:worker", "endpoint-slow:GET /a", "endpoint-slow:GET /m", "endpoint-slow:GET /z", "analysis-failures:", "resource-degraded:postgres"],
            report.Reasons.Select(r => $"{r.Code}:{r.Subject}"));
    }

    [Fact]
    public void A_code_lists_at_most_the_configured_subjects_worst_first_and_counts_the_rest()
    {
        var signals = Quiet() with { Endpoints = [.. Enumerable.Range(1, 7).Select(i => Endpoint($"GET /{i}", 50, 600 + i))] };

        var report = StatusEvaluator.Evaluate(signals, new PerfDashboardOptions { MaxSubjectsPerCode = 3 });

        // The three slowest are listed (in subject order, like every reason of one code and severity).
        Assert.Equal(["GET /5", "GET /6", "GET /7"], report.Reasons.Select(r => r.Subject!));
        Assert.Contains("4 more not listed", report.Reasons.Single(r => r.Subject == "GET /5").Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("more not listed", report.Reasons.Single(r => r.Subject == "GET /7").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Numbers_are_the_overall_figures()
    {
        var signals = Quiet() with
        {
            AllEndpoints = Endpoint("all", 120, 42, 0.005),
            Jobs = new(4, 2, Now.AddSeconds(-12.5), 1),
            Cache = NoCache with { HitRatio = 0.75, Hits = 75, Misses = 25, L1Entries = 9 },
            Analyses = new(5, 1, 1),
            SlowQueries = [Slow(Now.AddMinutes(-1)), Slow(Now.AddMinutes(-7))],
        };

        var numbers = StatusEvaluator.Evaluate(signals, Defaults).Numbers;

        Assert.Equal(2, numbers.RequestsPerSecond);
        Assert.Equal(42, numbers.P95Ms);
        Assert.Equal(0.005, numbers.ErrorRate);
        Assert.Equal(0.75, numbers.CacheHitRatio);
        Assert.Equal(9, numbers.L1Entries);
        Assert.Equal(4, numbers.JobsWaiting);
        Assert.Equal(2, numbers.JobsRunning);
        Assert.Equal(12.5, numbers.OldestWaitingJobSeconds);
        Assert.Equal(1, numbers.JobsDiscarded);
        Assert.Equal(2, numbers.AnalysesFailed);
        Assert.Equal(1, numbers.SlowStatements);
    }

    private static SlowQuery Slow(DateTimeOffset lastSeen) =>
        new("0123456789abcdef", "SELECT ?", 1, 300, 300, 300, lastSeen, lastSeen, null, PlanStatus.Pending);
}
