using System.ComponentModel.DataAnnotations;

namespace AspirePerf.Performance.Health;

/// <summary>
/// Thresholds of the overall status (<c>GET /api/v1/perf/dashboard</c>), section <c>PerfDashboard</c> (not
/// <c>Dashboard</c>: that section is the Dashboard.Web project's own). A warning is worth a look; a critical reason means
/// users are hurt now or will be without action.
/// </summary>
public sealed class PerfDashboardOptions
{
    public const string SectionName = "PerfDashboard";

    /// <summary>How far back N+1 findings, discarded jobs, failed analyses and slow statements count.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:10:00")]
    public TimeSpan RecentWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Budget of each dependency the call asks (health checks, the job query): a hung one becomes a reason, not a hung poller.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:00:30")]
    public TimeSpan DependencyTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Requests a route needs in the last minute before its p95 or error rate is judged (one slow request is noise).</summary>
    [Range(1, 1_000_000)]
    public int MinRequests { get; set; } = 10;

    [Range(0, 600_000)]
    public double SlowEndpointMs { get; set; } = 500;

    [Range(0, 600_000)]
    public double SlowEndpointCriticalMs { get; set; } = 2_000;

    /// <summary>Share of 5xx answers of a route (0–1).</summary>
    [Range(0, 1)]
    public double EndpointErrorRate { get; set; } = 0.01;

    [Range(0, 1)]
    public double EndpointErrorRateCritical { get; set; } = 0.05;

    /// <summary>A cache profile's hit ratio (since start) below this, after <see cref="CacheMinLookups"/> lookups, is a warning.</summary>
    [Range(0, 1)]
    public double CacheHitRatio { get; set; } = 0.5;

    [Range(1, 100_000_000)]
    public long CacheMinLookups { get; set; } = 100;

    /// <summary>Age of the oldest due job still waiting: the queue is not keeping up (or no worker drains it).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan JobBacklogAge { get; set; } = TimeSpan.FromMinutes(1);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan JobBacklogAgeCritical { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Jobs discarded (attempts exhausted) within <see cref="RecentWindow"/>.</summary>
    [Range(1, 1_000_000)]
    public long JobsDiscarded { get; set; } = 1;

    /// <summary>Busy share of the query data source's connection pool (0–1).</summary>
    [Range(0, 1)]
    public double PoolBusy { get; set; } = 0.8;

    [Range(0, 1)]
    public double PoolBusyCritical { get; set; } = 0.95;

    /// <summary>Analyses that ended failed or partial within <see cref="RecentWindow"/>.</summary>
    [Range(1, 1_000_000)]
    public long AnalysisFailures { get; set; } = 1;

    /// <summary>Slow-statement shapes (Profiling:SlowQueryThresholdMs) last seen within <see cref="RecentWindow"/>.</summary>
    [Range(1, 10_000)]
    public int SlowStatements { get; set; } = 1;

    /// <summary>A code (slow endpoints, N+1 …) names at most this many subjects, worst first; the rest are counted in the last one.</summary>
    [Range(1, 100)]
    public int MaxSubjectsPerCode { get; set; } = 5;
}
