using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Profiling;

public sealed class ProfilingOptions
{
    public const string SectionName = "Profiling";

    public bool Enabled { get; set; } = true;

    /// <summary>One fingerprint executed this many times in one request is an N+1 finding.</summary>
    [System.ComponentModel.DataAnnotations.Range(2, 10_000)]
    public int NPlusOneThreshold { get; set; } = 5;

    /// <summary>How many recent request profiles and findings are kept in memory.</summary>
    [System.ComponentModel.DataAnnotations.Range(10, 100_000)]
    public int RecentRequests { get; set; } = 1_000;

    /// <summary>
    /// Requests that ran no SQL, answered below 400 and faster than <see cref="SlowEndpointMs"/> (a cache hit, say) keep
    /// their profile one time in this many; 1 keeps every profile. Such a profile says little, and at thousands of hits
    /// a second keeping each would push every telling profile out of the <see cref="RecentRequests"/> ring within
    /// milliseconds. Every request still counts in the endpoint statistics.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1_000_000)]
    public int PlainRequestSampling { get; set; } = 100;

    /// <summary>An endpoint whose p95 over the window exceeds this is reported as slow by the insights.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 600_000)]
    public double SlowEndpointMs { get; set; } = 500;

    /// <summary>More SQL commands per request than this, on average, is reported as chatty.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100_000)]
    public double ChattySqlCommandsPerRequest { get; set; } = 10;

    /// <summary>SQL commands at least this slow go to the slow-query log, which captures their plans.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 3_600_000)]
    public double SlowQueryThresholdMs { get; set; } = 200;

    /// <summary>Distinct slow statement shapes kept; the least recently seen goes first.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 10_000)]
    public int SlowQueryCapacity { get; set; } = 200;
}

public sealed record SqlCommandProfile(string Fingerprint, string Sql, double DurationMs, bool Failed);

public sealed record RequestProfile(
    string TraceId,
    string Method,
    string Route,
    int StatusCode,
    double DurationMs,
    DateTimeOffset StartedAt,
    IReadOnlyList<SqlCommandProfile> Commands,
    IReadOnlyList<NPlusOneFinding> Findings);

public sealed record NPlusOneFinding(string TraceId, string Route, string Fingerprint, string Sql, int Count, double TotalMs, DateTimeOffset At);

/// <summary>
/// Per-request SQL capture, always on and cheap: an ActivityListener on Npgsql's activity source (so EF Core and raw
/// Npgsql alike, without touching call sites) files each finished command under its trace id; the request
/// middleware opens and closes the profile. At the end of a request its commands are grouped by fingerprint, and a
/// fingerprint repeated <see cref="ProfilingOptions.NPlusOneThreshold"/> times or more is an N+1 finding: logged as a
/// warning, added as an event to the request's span, counted, and listed. Recent profiles live in a bounded ring.
/// </summary>
public sealed partial class RequestProfiler : IDisposable
{
    public const string NpgsqlSource = "Npgsql";

    private readonly ConcurrentDictionary<ActivityTraceId, OpenProfile> _open = new();
    private readonly ConcurrentDictionary<string, RequestProfile> _byTraceId = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly ConcurrentQueue<NPlusOneFinding> _findings = new();
    private readonly ActivityListener _listener;
    private readonly IOptionsMonitor<ProfilingOptions> _options;
    private readonly Counter<long> _nPlusOne;
    private readonly ILogger<RequestProfiler> _logger;
    private readonly TimeProvider _time;

    private readonly EndpointStatistics _endpoints;
    private readonly SlowQueryLog _slowQueries;

    public RequestProfiler(IOptionsMonitor<ProfilingOptions> options, IMeterFactory meters, EndpointStatistics endpoints, SlowQueryLog slowQueries,
        TimeProvider time, ILogger<RequestProfiler> logger)
    {
        _endpoints = endpoints;
        _slowQueries = slowQueries;
        ArgumentNullException.ThrowIfNull(meters);
        _options = options;
        _time = time;
        _logger = logger;
        _nPlusOne = meters.Create("AspirePerf").CreateCounter<long>("aspireperf.profiling.n_plus_one", "{finding}",
            "Requests in which one SQL fingerprint ran at least the N+1 threshold times, by route.");
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == NpgsqlSource,
            // Only commands issued inside a profiled request are recorded: elsewhere nothing is created for us.
            Sample = (ref ActivityCreationOptions<ActivityContext> creation) =>
                _open.ContainsKey(creation.Parent.TraceId) ? ActivitySamplingResult.AllData : ActivitySamplingResult.None,
            ActivityStopped = OnCommandStopped,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    private volatile StrongBox<bool>? _override;

    /// <summary>Configuration decides, unless an operator switched profiling at run time.</summary>
    public bool Enabled => _override?.Value ?? _options.CurrentValue.Enabled;

    /// <summary>Switches profiling on or off until the next switch or restart; null returns to configuration.</summary>
    public void Override(bool? enabled) => _override = enabled is { } value ? new StrongBox<bool>(value) : null;

    /// <summary>Opens the profile of the request whose activity is <paramref name="request"/>.</summary>
    public void Begin(Activity request)
    {
        ArgumentNullException.ThrowIfNull(request);
        _open[request.TraceId] = new OpenProfile(_time.GetUtcNow());
    }

    /// <summary>Closes it: detects N+1, stores the profile, returns it.</summary>
    /// <param name="traceId">The request's trace id as hex (the caller has it already).</param>
    /// <returns>The profile, or null when it was not kept (<see cref="ProfilingOptions.PlainRequestSampling"/>).</returns>
    public RequestProfile? End(Activity request, string traceId, string method, string route, int statusCode, double durationMs)
    {
        ArgumentNullException.ThrowIfNull(request);
        IReadOnlyList<SqlCommandProfile> commands = _open.TryRemove(request.TraceId, out var open) && !open.Commands.IsEmpty ? [.. open.Commands] : [];
        var settings = _options.CurrentValue;
        if (commands.Count == 0 && statusCode < 400 && durationMs < settings.SlowEndpointMs
            && settings.PlainRequestSampling > 1 && Random.Shared.Next(settings.PlainRequestSampling) != 0)
        {
            _endpoints.Record(method, route, statusCode, durationMs, 0);
            return null;
        }
        var now = _time.GetUtcNow();
        var threshold = settings.NPlusOneThreshold;
        List<NPlusOneFinding> findings = commands.Count < threshold ? [] : [.. commands
            .GroupBy(c => c.Fingerprint)
            .Where(g => g.Count() >= threshold)
            .Select(g => new NPlusOneFinding(traceId, route, g.Key, g.First().Sql, g.Count(), Math.Round(g.Sum(c => c.DurationMs), 3), now))];
        foreach (var finding in findings)
        {
            LogNPlusOne(finding.Route, finding.Count, finding.Fingerprint, finding.Sql);
            request.AddEvent(new ActivityEvent("aspireperf.n_plus_one", tags: new ActivityTagsCollection
            {
                ["db.query.fingerprint"] = finding.Fingerprint,
                ["db.query.text"] = finding.Sql,
                ["aspireperf.n_plus_one.count"] = finding.Count,
            }));
            _nPlusOne.Add(1, new KeyValuePair<string, object?>("http.route", finding.Route));
            _findings.Enqueue(finding);
        }

        var profile = new RequestProfile(traceId, method, route, statusCode, Math.Round(durationMs, 3), open?.StartedAt ?? now, commands, findings);
        _endpoints.Record(method, route, statusCode, durationMs, commands.Count);
        Keep(profile);
        return profile;
    }

    public RequestProfile? Find(string traceId) => _byTraceId.GetValueOrDefault(traceId);

    public IReadOnlyList<NPlusOneFinding> Findings() => [.. _findings.Reverse()];

    private void Keep(RequestProfile profile)
    {
        var capacity = _options.CurrentValue.RecentRequests;
        _byTraceId[profile.TraceId] = profile;
        _order.Enqueue(profile.TraceId);
        while (_order.Count > capacity && _order.TryDequeue(out var oldest))
        {
            _byTraceId.TryRemove(oldest, out _);
        }
        while (_findings.Count > capacity && _findings.TryDequeue(out _))
        {
        }
    }

    private void OnCommandStopped(Activity activity)
    {
        if (!_open.TryGetValue(activity.TraceId, out var open))
        {
            return;
        }
        // Npgsql tags the statement with the current semantic convention name, older versions with db.statement.
        var sql = activity.GetTagItem("db.query.text") as string ?? activity.GetTagItem("db.statement") as string ?? activity.DisplayName;
        var (normalized, hash) = SqlFingerprint.Of(sql);
        var durationMs = activity.Duration.TotalMilliseconds;
        var failed = activity.Status == ActivityStatusCode.Error;
        open.Commands.Enqueue(new SqlCommandProfile(hash, normalized, Math.Round(durationMs, 3), failed));
        if (durationMs >= _slowQueries.ThresholdMs && !failed)
        {
            _slowQueries.Record(hash, normalized, sql, durationMs, activity.TraceId.ToHexString());
        }
    }

    public void Dispose() => _listener.Dispose();

    private sealed class OpenProfile(DateTimeOffset startedAt)
    {
        public DateTimeOffset StartedAt { get; } = startedAt;
        public ConcurrentQueue<SqlCommandProfile> Commands { get; } = new();
    }

    [LoggerMessage(LogLevel.Warning, "N+1 on {Route}: {Count} executions of {Fingerprint} ({Sql})")]
    private partial void LogNPlusOne(string route, int count, string fingerprint, string sql);
}
