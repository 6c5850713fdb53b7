using System.ComponentModel;
using System.Text.Json.Serialization;

namespace AspirePerf.Performance.Health;

/// <summary>The worst severity among the reasons; healthy when there is none.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OverallStatus>))]
public enum OverallStatus
{
    [JsonStringEnumMemberName("healthy")]
    Healthy,
    [JsonStringEnumMemberName("warning")]
    Warning,
    [JsonStringEnumMemberName("critical")]
    Critical,
}

[JsonConverter(typeof(JsonStringEnumConverter<ReasonSeverity>))]
public enum ReasonSeverity
{
    [JsonStringEnumMemberName("warning")]
    Warning = 1,
    [JsonStringEnumMemberName("critical")]
    Critical = 2,
}

/// <summary>The operator console's overall status: the worst reason decides it, critical reasons come first.</summary>
[ImmutableObject(true)]
public sealed record StatusReport(OverallStatus Status, DateTimeOffset CheckedAt, IReadOnlyList<StatusReason> Reasons, StatusNumbers Numbers);

/// <summary>
/// One thing that deserves attention. <paramref name="Code"/> is a stable machine id; <paramref name="Detail"/> gives the
/// observed value against its threshold; <paramref name="Link"/> is the console page that explains it.
/// </summary>
[ImmutableObject(true)]
public sealed record StatusReason(string Code, ReasonSeverity Severity, string Title, string Detail, string Link, string? Subject = null);

/// <summary>Key figures for the Overview; null where the signal could not be read (or does not exist here).</summary>
[ImmutableObject(true)]
public sealed record StatusNumbers(
    double RequestsPerSecond,
    double? P95Ms,
    double ErrorRate,
    double? CacheHitRatio,
    long L1Entries,
    long? JobsWaiting,
    long? JobsRunning,
    double? OldestWaitingJobSeconds,
    long? JobsDiscarded,
    int? PoolBusy,
    int? PoolMax,
    long AnalysesFailed,
    int SlowStatements);
