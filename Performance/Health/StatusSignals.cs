using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Performance.Profiling;

namespace AspirePerf.Performance.Health;

/// <summary>
/// What the API observed at <see cref="At"/>, each signal read where it already lives. A signal that could not be read
/// is null with the reason in its <c>…Error</c> member: the evaluator turns that into a critical reason instead of failing.
/// </summary>
public sealed record StatusSignals(
    DateTimeOffset At,
    IReadOnlyList<ResourceSignal> Resources,
    RedisCircuit RedisCircuit,
    IReadOnlyList<EndpointStatisticsEntry> Endpoints,
    EndpointStatisticsEntry? AllEndpoints,
    double EndpointWindowSeconds,
    IReadOnlyList<NPlusOneFinding> Findings,
    CacheStatisticsSnapshot Cache,
    JobBacklogSignal? Jobs,
    string? JobsError,
    PoolSignal? Pool,
    AnalysisOutcomeCounts Analyses,
    IReadOnlyList<SlowQuery> SlowQueries);

/// <summary>One row of the resource health (postgres, cache, worker …): status is Healthy, Degraded or Unhealthy.</summary>
public sealed record ResourceSignal(string Name, string Status, string? Description);

/// <summary>The Redis (L2) circuit: closed (in use), half-open (being tried again), open (skipped), or absent (no Redis L2 here).</summary>
public enum RedisCircuit
{
    Absent,
    Closed,
    HalfOpen,
    Open,
}

/// <summary>Due jobs waiting and running now, the oldest due one's due time, and discards in the recent window.</summary>
public sealed record JobBacklogSignal(long Waiting, long Running, DateTimeOffset? OldestDueAt, long DiscardedRecently);

public sealed record PoolSignal(int Busy, int Max);
