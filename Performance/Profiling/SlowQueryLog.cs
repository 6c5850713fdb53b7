using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using AspirePerf.Performance.Database;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.Performance.Profiling;

[JsonConverter(typeof(JsonStringEnumConverter<PlanStatus>))]
public enum PlanStatus
{
    Pending,
    Captured,
    NotARead,
    Failed,
}

/// <summary>One slow statement shape: values never appear, only the normalized text (literals and parameters are <c>?</c>).</summary>
public sealed record SlowQuery(
    string Fingerprint,
    string Query,
    long Count,
    double MeanMs,
    double MaxMs,
    double LastMs,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    string? LastTraceId,
    PlanStatus PlanStatus);

public sealed record SlowQueryPlan(
    string Fingerprint,
    string Query,
    PlanStatus Status,
    PlanSource? Source,
    double? TotalCost,
    DateTimeOffset? CapturedAt,
    string? Error,
    JsonElement? Plan);

/// <summary>
/// SQL commands slower than <see cref="ProfilingOptions.SlowQueryThresholdMs"/>, one entry per fingerprint, bounded.
/// The first time a shape is slow its plan is queued for capture by <see cref="SlowQueryPlanCapture"/>, so the
/// request that was slow never waits for an EXPLAIN. The raw SQL (placeholders, no values) is kept only to plan it.
/// </summary>
public sealed class SlowQueryLog(IOptionsMonitor<ProfilingOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    // Wait mode makes TryWrite answer false when full (DropWrite would claim success and lose the entry): the
    // statement stays un-queued and is offered again the next time it is slow. Nothing ever waits on it.
    private readonly Channel<Entry> _toPlan = Channel.CreateBounded<Entry>(new BoundedChannelOptions(64)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
    });

    public double ThresholdMs => options.CurrentValue.SlowQueryThresholdMs;

    internal ChannelReader<Entry> PlanQueue => _toPlan.Reader;

    public void Record(string fingerprint, string normalized, string sql, double durationMs, string? traceId)
    {
        var now = time.GetUtcNow();
        if (!_entries.TryGetValue(fingerprint, out var entry))
        {
            if (_entries.Count >= options.CurrentValue.SlowQueryCapacity)
            {
                EvictOldest();
            }
            entry = _entries.GetOrAdd(fingerprint, _ => new Entry(fingerprint, normalized, sql, now));
        }
        lock (entry)
        {
            entry.Count++;
            entry.TotalMs += durationMs;
            entry.MaxMs = Math.Max(entry.MaxMs, durationMs);
            entry.LastMs = durationMs;
            entry.LastSeen = now;
            entry.LastTraceId = traceId;
            if (entry.Status == PlanStatus.Pending && !entry.Queued)
            {
                entry.Queued = _toPlan.Writer.TryWrite(entry);
            }
        }
    }

    public IReadOnlyList<SlowQuery> Snapshot() => [.. _entries.Values.Select(e =>
    {
        lock (e)
        {
            return new SlowQuery(e.Fingerprint, e.Normalized, e.Count, Math.Round(e.TotalMs / e.Count, 3), Math.Round(e.MaxMs, 3),
                Math.Round(e.LastMs, 3), e.FirstSeen, e.LastSeen, e.LastTraceId, e.Status);
        }
    })];

    /// <summary>Raw SQL of each slow statement, for the index advisor's workload.</summary>
    public IReadOnlyList<(SlowQuery Query, string Sql)> Workload() =>
        [.. Snapshot().Select(q => (q, _entries.TryGetValue(q.Fingerprint, out var e) ? e.Sql : q.Query))];

    public SlowQueryPlan? Plan(string fingerprint)
    {
        if (!_entries.TryGetValue(fingerprint, out var e))
        {
            return null;
        }
        lock (e)
        {
            return new SlowQueryPlan(e.Fingerprint, e.Normalized, e.Status, e.Plan?.Source, e.Plan?.TotalCost, e.PlanCapturedAt, e.PlanError,
                e.Plan is null ? null : JsonDocument.Parse(e.Plan.Json).RootElement.Clone());
        }
    }

    private void EvictOldest()
    {
        var oldest = _entries.Values.MinBy(e => e.LastSeen);
        if (oldest is not null)
        {
            _entries.TryRemove(oldest.Fingerprint, out _);
        }
    }

    internal sealed class Entry(string fingerprint, string normalized, string sql, DateTimeOffset firstSeen)
    {
        public string Fingerprint { get; } = fingerprint;
        public string Normalized { get; } = normalized;
        public string Sql { get; } = sql;
        public DateTimeOffset FirstSeen { get; } = firstSeen;
        public long Count { get; set; }
        public double TotalMs { get; set; }
        public double MaxMs { get; set; }
        public double LastMs { get; set; }
        public DateTimeOffset LastSeen { get; set; }
        public string? LastTraceId { get; set; }
        public bool Queued { get; set; }
        public PlanStatus Status { get; set; }
        public QueryPlan? Plan { get; set; }
        public DateTimeOffset? PlanCapturedAt { get; set; }
        public string? PlanError { get; set; }
    }
}

/// <summary>
/// Captures the plans of newly slow statements in the background, one at a time on its own connection: with a
/// registered sample's parameter values when there is one (the plan the server really chose), otherwise generic.
/// Writes are never planned.
/// </summary>
public sealed partial class SlowQueryPlanCapture(
    SlowQueryLog log, NpgsqlDataSource dataSource, TimeProvider time, ILogger<SlowQueryPlanCapture> logger, IStatementSamples? samples = null)
    : BackgroundService
{
    private const int ExplainTimeoutMs = 10_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var entry in log.PlanQueue.ReadAllAsync(stoppingToken))
            {
                await CaptureAsync(entry, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task CaptureAsync(SlowQueryLog.Entry entry, CancellationToken cancellationToken)
    {
        if (!PlanExplainer.IsRead(entry.Sql))
        {
            lock (entry)
            {
                entry.Status = PlanStatus.NotARead;
            }
            return;
        }
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var plan = await PlanExplainer.ExplainAsync(connection, entry.Sql, samples?.Find(entry.Fingerprint), ExplainTimeoutMs, cancellationToken);
            lock (entry)
            {
                entry.Plan = plan;
                entry.PlanCapturedAt = time.GetUtcNow();
                entry.Status = PlanStatus.Captured;
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or JsonException or TimeoutException)
        {
            LogPlanFailed(entry.Fingerprint, ex.Message);
            lock (entry)
            {
                entry.PlanError = ex.Message;
                entry.Status = PlanStatus.Failed;
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Could not capture the plan of slow statement {Fingerprint}: {Message}")]
    private partial void LogPlanFailed(string fingerprint, string message);
}
