using System.Globalization;
using AspirePerf.Performance.Orchestration;

namespace AspirePerf.Performance.Health;

/// <summary>
/// Thresholds → reasons → status, with no I/O: everything it judges is in <see cref="StatusSignals"/>, so every rule is
/// testable without a host. Reasons are ordered critical first, then by <see cref="Codes"/>' order, then by subject.
/// </summary>
public static class StatusEvaluator
{
    /// <summary>Every code this evaluator gives, in the order reasons of one severity are listed.</summary>
    public static readonly IReadOnlyList<string> Codes =
    [
        "resource-unhealthy", "redis-unavailable", "redis-circuit-open", "job-queue-unreadable",
        "endpoint-errors", "endpoint-slow", "pool-saturated", "job-backlog-old", "jobs-discarded", "analysis-failures",
        "n-plus-one", "slow-statements", "cache-hit-ratio-low", "resource-degraded",
    ];

    public static StatusReport Evaluate(StatusSignals signals, PerfDashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(signals);
        ArgumentNullException.ThrowIfNull(options);
        var reasons = new List<StatusReason>();
        Resources(signals, reasons);
        Redis(signals.RedisCircuit, reasons);
        Endpoints(signals, options, reasons);
        NPlusOne(signals, options, reasons);
        Cache(signals, options, reasons);
        var oldestSeconds = Jobs(signals, options, reasons);
        Pool(signals.Pool, options, reasons);
        Analyses(signals.Analyses, options, reasons);
        var slowStatements = SlowStatements(signals, options, reasons);

        var ordered = reasons
            .OrderByDescending(r => r.Severity)
            .ThenBy(r => IndexOf(r.Code))
            .ThenBy(r => r.Subject, StringComparer.Ordinal)
            .ToList();
        var status = ordered.Count == 0 ? OverallStatus.Healthy
            : ordered[0].Severity == ReasonSeverity.Critical ? OverallStatus.Critical : OverallStatus.Warning;
        var all = signals.AllEndpoints;
        var numbers = new StatusNumbers(
            RequestsPerSecond: all is null ? 0 : Math.Round(all.Count / signals.EndpointWindowSeconds, 3),
            P95Ms: all?.P95Ms,
            ErrorRate: all?.ErrorRate ?? 0,
            CacheHitRatio: signals.Cache.Enabled && signals.Cache.Hits + signals.Cache.Misses + signals.Cache.Stale > 0 ? signals.Cache.HitRatio : null,
            L1Entries: signals.Cache.L1Entries,
            JobsWaiting: signals.Jobs?.Waiting,
            JobsRunning: signals.Jobs?.Running,
            OldestWaitingJobSeconds: oldestSeconds,
            JobsDiscarded: signals.Jobs?.DiscardedRecently,
            PoolBusy: signals.Pool?.Busy,
            PoolMax: signals.Pool?.Max,
            AnalysesFailed: signals.Analyses.Failed + signals.Analyses.Partial,
            SlowStatements: slowStatements);
        return new StatusReport(status, signals.At, ordered, numbers);
    }

    private static int IndexOf(string code)
    {
        for (var i = 0; i < Codes.Count; i++)
        {
            if (Codes[i] == code)
            {
                return i;
            }
        }
        return Codes.Count;
    }

    private static void Resources(StatusSignals signals, List<StatusReason> reasons)
    {
        foreach (var resource in signals.Resources)
        {
            var unhealthy = string.Equals(resource.Status, "Unhealthy", StringComparison.OrdinalIgnoreCase);
            var degraded = string.Equals(resource.Status, "Degraded", StringComparison.OrdinalIgnoreCase);
            if (!unhealthy && !degraded)
            {
                continue;
            }
            var detail = $"{resource.Name} is {resource.Status}: {Shorten(resource.Description ?? "no description")}";
            if (resource.Name == "cache")
            {
                // Redis down costs no answer (L1 and the source serve, see docs/caching.md), but cross-node invalidation
                // stops, so other nodes may serve answers invalidated elsewhere until their TTL, and distributed rate
                // limits fall back to per-instance ones: an operator must act, hence critical.
                reasons.Add(new(unhealthy ? "redis-unavailable" : "resource-degraded", unhealthy ? ReasonSeverity.Critical : ReasonSeverity.Warning,
                    unhealthy ? "Redis does not answer: the cache serves from memory and the database" : "Redis is degraded",
                    detail, "/resources", resource.Name));
                continue;
            }
            reasons.Add(unhealthy
                ? new("resource-unhealthy", ReasonSeverity.Critical, $"{resource.Name} is unhealthy", detail, "/resources", resource.Name)
                : new("resource-degraded", ReasonSeverity.Warning, $"{resource.Name} is degraded", detail, "/resources", resource.Name));
        }
    }

    private static void Redis(RedisCircuit circuit, List<StatusReason> reasons)
    {
        // Open: every L2 read is a miss and every write skipped (load moves to the database); half-open: Redis is being
        // tried again, the outage may be over.
        if (circuit == RedisCircuit.Open)
        {
            reasons.Add(new("redis-circuit-open", ReasonSeverity.Critical, "The Redis circuit is open: the cache skips Redis",
                "Redis (L2) operations failed or timed out (half of at least 3 in 10 s); L2 is skipped until the circuit closes.", "/cache", "cache"));
        }
        else if (circuit == RedisCircuit.HalfOpen)
        {
            reasons.Add(new("redis-circuit-open", ReasonSeverity.Warning, "The Redis circuit is half-open: Redis is being tried again",
                "After a Redis (L2) outage the next operation decides whether the cache uses Redis again.", "/cache", "cache"));
        }
    }

    private static void Endpoints(StatusSignals signals, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        var judged = signals.Endpoints.Where(e => e.Count >= options.MinRequests).ToList();
        var slow = judged.Where(e => e.P95Ms > options.SlowEndpointMs).OrderByDescending(e => e.P95Ms).ToList();
        foreach (var (e, more) in Limit(slow, options))
        {
            var critical = e.P95Ms > options.SlowEndpointCriticalMs;
            reasons.Add(new("endpoint-slow", critical ? ReasonSeverity.Critical : ReasonSeverity.Warning, $"{e.Route} is slow",
                $"p95 {Number(e.P95Ms)} ms over the last minute (warning above {Number(options.SlowEndpointMs)} ms, critical above " +
                $"{Number(options.SlowEndpointCriticalMs)} ms), {e.Count} requests.{more}", EndpointLink(e.Route), e.Route));
        }
        var failing = judged.Where(e => e.ErrorRate > options.EndpointErrorRate).OrderByDescending(e => e.ErrorRate).ToList();
        foreach (var (e, more) in Limit(failing, options))
        {
            var critical = e.ErrorRate > options.EndpointErrorRateCritical;
            reasons.Add(new("endpoint-errors", critical ? ReasonSeverity.Critical : ReasonSeverity.Warning, $"{e.Route} answers server errors",
                $"{Percent(e.ErrorRate)} of {e.Count} requests answered 5xx over the last minute (warning above {Percent(options.EndpointErrorRate)}, " +
                $"critical above {Percent(options.EndpointErrorRateCritical)}).{more}", EndpointLink(e.Route), e.Route));
        }
    }

    private static void NPlusOne(StatusSignals signals, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        var since = signals.At - options.RecentWindow;
        var routes = signals.Findings.Where(f => f.At >= since)
            .GroupBy(f => f.Route, StringComparer.Ordinal)
            .Select(g => (Route: g.Key, Requests: g.Select(f => f.TraceId).Distinct(StringComparer.Ordinal).Count(), Max: g.Max(f => f.Count),
                Statements: g.Select(f => f.Fingerprint).Distinct(StringComparer.Ordinal).Count()))
            .OrderByDescending(r => r.Requests).ThenBy(r => r.Route, StringComparer.Ordinal)
            .ToList();
        foreach (var (r, more) in Limit(routes, options))
        {
            reasons.Add(new("n-plus-one", ReasonSeverity.Warning, $"{r.Route} repeats a statement per row (N+1)",
                $"{r.Requests} requests in the last {Minutes(options.RecentWindow)} ran one statement {r.Max} times or more " +
                $"({r.Statements} statement shape{(r.Statements == 1 ? "" : "s")}).{more}", EndpointLink(r.Route), r.Route));
        }
    }

    private static void Cache(StatusSignals signals, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        if (!signals.Cache.Enabled)
        {
            return;
        }
        var low = signals.Cache.Profiles
            .Select(p => (Profile: p, Lookups: p.L1Hits + p.L2Hits + p.Misses + p.Stale))
            .Where(p => p.Lookups >= options.CacheMinLookups && p.Profile.HitRatio < options.CacheHitRatio)
            .OrderBy(p => p.Profile.HitRatio)
            .ToList();
        foreach (var ((profile, lookups), more) in Limit(low, options))
        {
            reasons.Add(new("cache-hit-ratio-low", ReasonSeverity.Warning, $"Cache profile {profile.Profile} rarely hits",
                $"Hit ratio {Percent(profile.HitRatio)} over {lookups} lookups since start (threshold {Percent(options.CacheHitRatio)}): " +
                $"parameters vary too much, or TTLs are too short.{more}", "/cache?profile=" + Uri.EscapeDataString(profile.Profile), profile.Profile));
        }
    }

    private static double? Jobs(StatusSignals signals, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        if (signals.JobsError is { } error)
        {
            reasons.Add(new("job-queue-unreadable", ReasonSeverity.Critical, "The job queue could not be read", Shorten(error), "/jobs"));
        }
        if (signals.Jobs is not { } jobs)
        {
            return null;
        }
        double? oldest = jobs.OldestDueAt is { } due ? Math.Round(Math.Max(0, (signals.At - due).TotalSeconds), 1) : null;
        if (oldest is { } age && age > options.JobBacklogAge.TotalSeconds)
        {
            var critical = age > options.JobBacklogAgeCritical.TotalSeconds;
            reasons.Add(new("job-backlog-old", critical ? ReasonSeverity.Critical : ReasonSeverity.Warning, "Due jobs wait too long",
                $"The oldest due job has waited {Number(age)} s (warning above {Number(options.JobBacklogAge.TotalSeconds)} s, critical above " +
                $"{Number(options.JobBacklogAgeCritical.TotalSeconds)} s); {jobs.Waiting} waiting, {jobs.Running} running.", "/jobs?state=available"));
        }
        if (jobs.DiscardedRecently >= options.JobsDiscarded)
        {
            reasons.Add(new("jobs-discarded", ReasonSeverity.Warning, "Jobs were discarded",
                $"{jobs.DiscardedRecently} jobs exhausted their attempts in the last {Minutes(options.RecentWindow)} (threshold {options.JobsDiscarded}).",
                "/jobs?state=discarded"));
        }
        return oldest;
    }

    private static void Pool(PoolSignal? pool, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        if (pool is not { Max: > 0 } p)
        {
            return;
        }
        var share = (double)p.Busy / p.Max;
        if (share >= options.PoolBusy)
        {
            var critical = share >= options.PoolBusyCritical;
            reasons.Add(new("pool-saturated", critical ? ReasonSeverity.Critical : ReasonSeverity.Warning, "The database connection pool is nearly exhausted",
                $"{p.Busy} of {p.Max} connections busy ({Percent(share)}; warning at {Percent(options.PoolBusy)}, critical at {Percent(options.PoolBusyCritical)}): " +
                "further queries wait for a connection.", "/database"));
        }
    }

    private static void Analyses(AnalysisOutcomeCounts analyses, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        var failures = analyses.Failed + analyses.Partial;
        if (failures >= options.AnalysisFailures)
        {
            reasons.Add(new("analysis-failures", ReasonSeverity.Warning, "Analyses failed or ended partial",
                $"{analyses.Failed} failed and {analyses.Partial} partial of {failures + analyses.Complete} analyses in the last " +
                $"{Minutes(options.RecentWindow)} (threshold {options.AnalysisFailures}).", "/analyses"));
        }
    }

    private static int SlowStatements(StatusSignals signals, PerfDashboardOptions options, List<StatusReason> reasons)
    {
        var since = signals.At - options.RecentWindow;
        var recent = signals.SlowQueries.Where(q => q.LastSeen >= since).ToList();
        if (recent.Count >= options.SlowStatements)
        {
            var slowest = recent.MaxBy(q => q.MaxMs)!;
            reasons.Add(new("slow-statements", ReasonSeverity.Warning, "SQL statements ran slow",
                $"{recent.Count} statement shapes were slower than the slow-query threshold in the last {Minutes(options.RecentWindow)} " +
                $"(threshold {options.SlowStatements}); the slowest took {Number(slowest.MaxMs)} ms.", "/database"));
        }
        return recent.Count;
    }

    /// <summary>The first <see cref="PerfDashboardOptions.MaxSubjectsPerCode"/> items; the last one listed says how many were left out.</summary>
    private static IEnumerable<(T Item, string More)> Limit<T>(List<T> items, PerfDashboardOptions options)
    {
        var listed = Math.Min(items.Count, options.MaxSubjectsPerCode);
        for (var i = 0; i < listed; i++)
        {
            yield return (items[i], i == listed - 1 && items.Count > listed ? $" {items.Count - listed} more not listed." : "");
        }
    }

    // Client exceptions (StackExchange.Redis' above all) run to kilobytes; the console shows a line, /system/resources the rest.
    private static string Shorten(string text) => text.Length <= MaxDetailLength ? text : text[..(MaxDetailLength - 1)] + "…";

    private const int MaxDetailLength = 300;

    private static string EndpointLink(string route) => "/endpoints?route=" + Uri.EscapeDataString(route);

    private static string Number(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Percent(double share) => (share * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %";

    private static string Minutes(TimeSpan window) => window.TotalMinutes >= 1
        ? window.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture) + " min"
        : window.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s";
}
