using System.Diagnostics;
using System.Text.Json.Serialization;
using AspirePerf.Performance.Database.Queries;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.Performance.Orchestration;

/// <summary>Section <c>Orchestration</c>.</summary>
public sealed class OrchestrationOptions
{
    public const string SectionName = "Orchestration";

    /// <summary>
    /// Steps running at once in this process, over every analysis. Null: half the database pool (Database:MaxPoolSize
    /// or the connection string's), so analyses never starve the API's own queries; never more than the pool.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1000)]
    public int? MaxParallelSteps { get; set; }

    /// <summary>Steps of one analysis running at once.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1000)]
    public int MaxParallelStepsPerAnalysis { get; set; } = 4;

    /// <summary>A step not done by then is timed out: its dependents are skipped, the others go on.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long <c>GET /api/v1/analyses/{id}</c> may run when the caller gives no <c>deadlineMs</c>.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan DefaultDeadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest deadline a request may ask for; longer analyses run as <c>analysis</c> jobs.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan MaxDeadline { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Distributed mode: how often the coordinator looks for finished step jobs.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan StepPollInterval { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// When several query steps run at once in this process, cap each one's PostgreSQL intra-query parallelism
    /// (<c>max_parallel_workers_per_gather</c>, transaction-local) so that steps running × (1 + workers per gather) stays
    /// within <see cref="DatabaseParallelBudget"/>. A step running alone keeps the server's setting.
    /// </summary>
    public bool CapDatabaseParallelism { get; set; } = true;

    /// <summary>
    /// Processes (query leaders and their parallel workers) the analyses' concurrent steps may keep busy on the database
    /// server: its cores. Null: the server's <c>max_parallel_workers</c> (read by each capped step's transaction), which
    /// is the server's own core count only if its operator set it so (PostgreSQL's default is 8).
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100_000)]
    public int? DatabaseParallelBudget { get; set; }

    /// <summary>
    /// Start ready steps longest estimated remaining path first and spare the critical step the database-parallelism cap
    /// (<see cref="CriticalPathScheduler"/>). Off: declaration order, no step critical (the behaviour before; benchmarks
    /// compare the two).
    /// </summary>
    public bool CriticalPathScheduling { get; set; } = true;
}

/// <summary>Runs one query step somewhere: in this process through the cache, or as a job on the queue.</summary>
public interface IQueryStepRunner
{
    /// <summary>The mode's name in reports: <c>in-process</c> or <c>distributed</c>.</summary>
    string Mode { get; }

    /// <param name="inputs">The query's parameters as query-string text (<see cref="AnalysisGraph.RawInputs"/>).</param>
    /// <param name="bypassCache">Compute, neither reading nor writing the cache (benchmarks).</param>
    /// <param name="parallelism">How much of the database's CPU the step's query may take, given the steps the scheduler
    /// runs at the moment (null: no hint); a runner that does not run the query here may ignore it. The answer never
    /// depends on it.</param>
    Task<QueryStepResult> RunAsync(QueryDefinition query, IReadOnlyDictionary<string, string> inputs, bool bypassCache, QueryParallelism? parallelism,
        CancellationToken cancellationToken);
}

/// <param name="Cache">hit, miss, stale or bypass: how the cache answered.</param>
/// <param name="ParallelWorkersPerGather">The <c>max_parallel_workers_per_gather</c> the step's query ran under, when it
/// ran here with a parallelism hint; null when it did not run (a cache hit) or ran elsewhere.</param>
public sealed record QueryStepResult(StepOutput Output, string Cache, int? ParallelWorkersPerGather = null);

[JsonConverter(typeof(JsonStringEnumConverter<StepStatus>))]
public enum StepStatus
{
    [JsonStringEnumMemberName("pending")]
    Pending,
    [JsonStringEnumMemberName("running")]
    Running,
    [JsonStringEnumMemberName("succeeded")]
    Succeeded,
    [JsonStringEnumMemberName("failed")]
    Failed,
    [JsonStringEnumMemberName("timed_out")]
    TimedOut,
    [JsonStringEnumMemberName("skipped")]
    Skipped,
    [JsonStringEnumMemberName("cancelled")]
    Cancelled,
}

/// <summary>complete: every step succeeded; partial: some did; failed: none did.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AnalysisStatus>))]
public enum AnalysisStatus
{
    [JsonStringEnumMemberName("complete")]
    Complete,
    [JsonStringEnumMemberName("partial")]
    Partial,
    [JsonStringEnumMemberName("failed")]
    Failed,
}

/// <summary>One step's outcome. Times are ms from the analysis's start; rows are absent unless it succeeded.</summary>
public sealed record StepReport(
    string Id,
    string Title,
    string Kind,
    string? QueryId,
    IReadOnlyList<string> DependsOn,
    IReadOnlyDictionary<string, string>? Parameters,
    StepStatus Status,
    string? Error,
    string? Cache,
    double? StartedMs,
    double? ElapsedMs,
    IReadOnlyList<QueryColumn>? Columns,
    IReadOnlyList<object?[]>? Rows,
    int? RowCount)
{
    /// <summary>Query steps running in this process when this one started (itself included); null for a synthesis or a step that never started.</summary>
    public int? QueryStepsRunning { get; init; }

    /// <summary>
    /// The PostgreSQL <c>max_parallel_workers_per_gather</c> the step's query ran under: the server's setting, or less when
    /// it was capped because other steps ran at once (<see cref="OrchestrationOptions.CapDatabaseParallelism"/>); null
    /// when no query ran here (a cache hit, a synthesis, a distributed step).
    /// </summary>
    public int? ParallelWorkersPerGather { get; init; }

    /// <summary>Runs of the step's query: 2 when the first failed with a transient database error and was retried.</summary>
    public int? Attempts { get; init; }

    /// <summary>
    /// Whether the scheduler treated the step as the one on the critical path when it started (the longest estimated
    /// remaining path; <see cref="CriticalPathScheduler"/>): its query keeps the server's parallel workers while the
    /// others are capped. Null for a step that never started.
    /// </summary>
    public bool? Critical { get; init; }
}

/// <summary>
/// An analysis's answer: every step's report and the timings a reader needs to judge the run: wall time, the sum of
/// step times (what running them one after another costs), the critical path (the longest dependency chain of step
/// times: the best any schedule could do) and the achieved parallelism (serial ÷ wall).
/// </summary>
public sealed record AnalysisReport(
    string AnalysisId,
    string Title,
    IReadOnlyDictionary<string, object?> Parameters,
    AnalysisStatus Status,
    string Mode,
    DateTimeOffset StartedAt,
    double ElapsedMs,
    double SerialMs,
    double CriticalPathMs,
    double Parallelism,
    int MaxConcurrentSteps,
    IReadOnlyList<StepReport> Steps);

/// <param name="Deadline">The whole analysis's time limit: steps still running then are timed out.</param>
/// <param name="OnStepFinished">Called after each step ends (succeeded or not), with how many of all steps have ended.</param>
public sealed record AnalysisRunOptions(bool BypassCache = false, TimeSpan? Deadline = null, Func<StepReport, int, int, Task>? OnStepFinished = null);

/// <summary>
/// Runs analyses: each step starts as soon as all its dependencies have succeeded (no waves), at most
/// <see cref="OrchestrationOptions.MaxParallelStepsPerAnalysis"/> per analysis and
/// <see cref="OrchestrationOptions.MaxParallelSteps"/> in this process, longest estimated remaining path first
/// (<see cref="CriticalPathScheduler"/> over <see cref="Costs"/>); a step that fails or times out skips exactly the
/// steps downstream of it. Hand-written: no served library schedules a DAG over async steps (TPL Dataflow is a pipeline,
/// not a dependency graph with failure propagation).
/// </summary>
public sealed partial class AnalysisRunner : IDisposable
{
    private readonly QueryRegistry _queries;
    private readonly OrchestrationOptions _options;
    private readonly OrchestrationTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger<AnalysisRunner> _logger;
    private readonly SemaphoreSlim _global;
    private int _queryStepsAdmitted;

    public AnalysisRunner(QueryRegistry queries, IOptions<OrchestrationOptions> options, OrchestrationTelemetry telemetry, TimeProvider time,
        ILogger<AnalysisRunner> logger, NpgsqlDataSource? dataSource = null, StepCostModel? costs = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        (_queries, _options, _telemetry, _time, _logger) = (queries, options.Value, telemetry, time, logger);
        Costs = costs ?? new StepCostModel();
        var pool = dataSource is null ? 100 : new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize;
        GlobalLimit = Math.Min(_options.MaxParallelSteps ?? Math.Max(1, pool / 2), pool);
        _global = new SemaphoreSlim(GlobalLimit, GlobalLimit);
    }

    /// <summary>Steps that may run at once in this process (over every analysis).</summary>
    public int GlobalLimit { get; }

    /// <summary>The step durations this runner has measured (steps that computed their answer), which order its next runs.</summary>
    public StepCostModel Costs { get; }

    /// <summary>
    /// Query steps of every analysis in this process that the schedulers have started and that have not ended, at most
    /// <see cref="GlobalLimit"/> (those beyond wait for a slot): how many share the database's CPU right now.
    /// </summary>
    public int QueryStepsRunning => Math.Min(Volatile.Read(ref _queryStepsAdmitted), GlobalLimit);

    public void Dispose() => _global.Dispose();

    public async Task<AnalysisReport> RunAsync(AnalysisDefinition analysis, BoundParameters parameters, IQueryStepRunner runner,
        AnalysisRunOptions run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(run);
        using var activity = OrchestrationTelemetry.Source.StartActivity($"analysis {analysis.Id}");
        activity?.SetTag("aspireperf.analysis", analysis.Id);
        activity?.SetTag("aspireperf.analysis.mode", runner.Mode);

        var startedAt = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (run.Deadline is { } limit)
        {
            deadline.CancelAfter(limit);
        }
        var state = new RunState(analysis, _options.CriticalPathScheduling
            ? new CriticalPathScheduler(analysis, Costs.EstimatesFor(analysis))
            : CriticalPathScheduler.InDeclarationOrder(analysis));
        var running = new Dictionary<Task, AnalysisStep>();
        var concurrent = 0;
        var maxConcurrent = 0;

        void StartReady()
        {
            var starting = new List<(AnalysisStep Step, bool Critical)>();
            while (running.Count + starting.Count < _options.MaxParallelStepsPerAnalysis && state.Scheduler.TryTakeNext(out var next))
            {
                starting.Add((next, state.Scheduler.Start(next, clock.Elapsed.TotalMilliseconds)));
            }
            // Counted before any of them runs, so steps started together all see each other.
            Interlocked.Add(ref _queryStepsAdmitted, starting.Count(s => s.Step.IsQuery));
            foreach (var (step, critical) in starting)
            {
                var task = RunStepAsync(analysis, step, critical, parameters, state, runner, run, clock, OnStart, activity, deadline.Token);
                running[task] = step;
            }
        }
        void OnStart()
        {
            var now = Interlocked.Increment(ref concurrent);
            int seen;
            while (now > (seen = Volatile.Read(ref maxConcurrent)) && Interlocked.CompareExchange(ref maxConcurrent, now, seen) != seen)
            {
            }
        }

        StartReady();
        while (running.Count > 0)
        {
            var finished = await Task.WhenAny(running.Keys);
            var step = running[finished];
            running.Remove(finished);
            Interlocked.Decrement(ref concurrent);
            state.Scheduler.End(step.Id);
            var report = state.Reports[step.Id];
            if (StepCostModel.Measures(report))
            {
                Costs.Observe(analysis.Id, step.Id, report.ElapsedMs!.Value);
            }
            if (report.Status == StepStatus.Succeeded)
            {
                state.Succeeded(step.Id);
            }
            else
            {
                foreach (var skipped in state.SkipDownstream(step.Id))
                {
                    await Notify(run, state, skipped);
                }
            }
            await Notify(run, state, state.Reports[step.Id]);
            if (cancellationToken.IsCancellationRequested)
            {
                // The caller went away: nothing new starts; what runs sees its token cancelled and ends soon.
                state.Scheduler.ClearReady();
            }
            StartReady();
        }
        cancellationToken.ThrowIfCancellationRequested();

        var reports = analysis.Steps.Select(s => state.Reports[s.Id]).ToList();
        var serial = reports.Sum(r => r.ElapsedMs ?? 0);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        var status = reports.All(r => r.Status == StepStatus.Succeeded) ? AnalysisStatus.Complete
            : reports.Any(r => r.Status == StepStatus.Succeeded) ? AnalysisStatus.Partial : AnalysisStatus.Failed;
        _telemetry.AnalysisFinished(analysis.Id, runner.Mode, status);
        activity?.SetTag("aspireperf.analysis.status", status.ToString().ToLowerInvariant());
        if (status != AnalysisStatus.Complete)
        {
            activity?.SetStatus(ActivityStatusCode.Error, $"{status}: {string.Join(", ", reports.Where(r => r.Status != StepStatus.Succeeded).Select(r => $"{r.Id} {r.Status}"))}");
        }
        return new AnalysisReport(analysis.Id, analysis.Title, parameters.Values, status, runner.Mode, startedAt,
            Math.Round(elapsed, 2), Math.Round(serial, 2), Math.Round(CriticalPath(analysis, state.Reports), 2),
            elapsed > 0 ? Math.Round(serial / elapsed, 2) : 0, maxConcurrent, reports);
    }

    private static async Task Notify(AnalysisRunOptions run, RunState state, StepReport report)
    {
        state.Ended++;
        if (run.OnStepFinished is { } notify)
        {
            await notify(report, state.Ended, state.Reports.Count);
        }
    }

    /// <param name="critical">The step is on the critical path (<see cref="CriticalPathScheduler.Start"/>): its query is not capped.</param>
    private async Task RunStepAsync(AnalysisDefinition analysis, AnalysisStep step, bool critical, BoundParameters parameters, RunState state,
        IQueryStepRunner runner, AnalysisRunOptions run, Stopwatch clock, Action onStart, Activity? parent, CancellationToken deadline)
    {
        await Task.Yield(); // the scheduler loop goes on starting other ready steps
        var outputs = state.OutputsFor(step);
        IReadOnlyDictionary<string, string>? inputs = null;
        double? startedMs = null;
        var stepClock = new Stopwatch();
        var holdsSlot = false;
        int? sharing = null;
        int? workers = null;
        var attempts = 0;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        timeout.CancelAfter(step.Timeout ?? _options.StepTimeout);
        using var activity = OrchestrationTelemetry.Source.StartActivity($"step {step.Id}", ActivityKind.Internal, parent?.Context ?? default);
        activity?.SetTag("aspireperf.analysis", analysis.Id);
        activity?.SetTag("aspireperf.analysis.step", step.Id);
        activity?.SetTag("aspireperf.analysis.step.critical", critical);
        if (step.QueryId is not null)
        {
            activity?.SetTag("aspireperf.query", step.QueryId);
        }
        try
        {
            await _global.WaitAsync(timeout.Token);
            holdsSlot = true;
            onStart();
            startedMs = clock.Elapsed.TotalMilliseconds;
            stepClock.Start();
            _telemetry.StepStarted();
            QueryStepResult result;
            if (step.IsQuery)
            {
                var query = _queries.Find(step.QueryId!)!;
                inputs = AnalysisGraph.RawInputs(step, parameters, outputs);
                sharing = QueryStepsRunning;
                // The critical step keeps the server's parallel workers; the others get their share of the budget
                // (budget ÷ steps running, the critical one counted).
                var parallelism = new QueryParallelism(sharing.Value, _options.DatabaseParallelBudget, _options.CapDatabaseParallelism && !critical);
                while (true)
                {
                    attempts++;
                    try
                    {
                        result = await runner.RunAsync(query, inputs, run.BypassCache, parallelism, timeout.Token).WaitAsync(timeout.Token);
                        break;
                    }
                    catch (NpgsqlException ex) when (ex.IsTransient && attempts == 1 && !timeout.IsCancellationRequested)
                    {
                        // A dropped session, a failover, a deadlock: the same query on a new connection can succeed
                        // (distributed steps get this from their job's attempts). Once, within the step's timeout.
                        LogStepRetried(analysis.Id, step.Id, ex.GetType().Name + ": " + ex.Message);
                    }
                }
                workers = result.ParallelWorkersPerGather;
            }
            else
            {
                result = new QueryStepResult(step.Synthesis!(new SynthesisContext(parameters, outputs)), "none");
            }
            stepClock.Stop();
            state.Complete(step, Report(step, inputs, StepStatus.Succeeded, null, result.Cache, startedMs, stepClock, result.Output)
                with { QueryStepsRunning = sharing, ParallelWorkersPerGather = workers, Attempts = step.IsQuery ? attempts : null, Critical = critical }, result.Output);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            stepClock.Stop();
            var why = deadline.IsCancellationRequested
                ? "The analysis's deadline passed (or its caller went away) before this step finished."
                : $"Did not finish within its timeout of {(step.Timeout ?? _options.StepTimeout).TotalMilliseconds:0} ms.";
            state.Complete(step, Report(step, inputs, StepStatus.TimedOut, why, null, startedMs, stepClock, null)
                with { QueryStepsRunning = sharing, Attempts = attempts > 0 ? attempts : null, Critical = startedMs is null ? null : critical }, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            stepClock.Stop();
            LogStepFailed(analysis.Id, step.Id, ex.GetType().Name + ": " + ex.Message);
            state.Complete(step, Report(step, inputs, StepStatus.Failed, ex.Message, null, startedMs, stepClock, null)
                with { QueryStepsRunning = sharing, Attempts = attempts > 0 ? attempts : null, Critical = startedMs is null ? null : critical }, null);
        }
        finally
        {
            if (step.IsQuery)
            {
                Interlocked.Decrement(ref _queryStepsAdmitted);
            }
            if (holdsSlot)
            {
                _global.Release();
                _telemetry.StepEnded(analysis.Id, step.Id, state.Reports[step.Id].Status, stepClock.Elapsed);
            }
            activity?.SetTag("aspireperf.analysis.step.status", state.Reports[step.Id].Status.ToString().ToLowerInvariant());
            if (state.Reports[step.Id].Status != StepStatus.Succeeded)
            {
                activity?.SetStatus(ActivityStatusCode.Error, state.Reports[step.Id].Error);
            }
        }
    }

    private static StepReport Report(AnalysisStep step, IReadOnlyDictionary<string, string>? inputs, StepStatus status, string? error,
        string? cache, double? startedMs, Stopwatch clock, StepOutput? output) =>
        new(step.Id, step.Title, step.IsQuery ? "query" : "synthesis", step.QueryId, [.. step.DependsOn], inputs, status, error, cache,
            startedMs is { } s ? Math.Round(s, 2) : null, startedMs is null ? null : Math.Round(clock.Elapsed.TotalMilliseconds, 2),
            output?.Columns, output?.Rows, output?.Rows.Count);

    /// <summary>The longest chain of step times through the graph (steps that never ran count as zero).</summary>
    public static double CriticalPath(AnalysisDefinition analysis, IReadOnlyDictionary<string, StepReport> reports)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        ArgumentNullException.ThrowIfNull(reports);
        var finish = new Dictionary<string, double>(StringComparer.Ordinal);
        var byId = analysis.Steps.ToDictionary(s => s.Id, StringComparer.Ordinal);
        double Finish(string id) => finish.TryGetValue(id, out var known) ? known
            : finish[id] = byId[id].DependsOn.Select(Finish).DefaultIfEmpty(0).Max() + (reports[id].ElapsedMs ?? 0);
        return analysis.Steps.Select(s => Finish(s.Id)).DefaultIfEmpty(0).Max();
    }

    [LoggerMessage(LogLevel.Warning, "Analysis {Analysis}: step {Step} hit a transient database error and runs once more: {Error}")]
    private partial void LogStepRetried(string analysis, string step, string error);

    [LoggerMessage(LogLevel.Warning, "Analysis {Analysis}: step {Step} failed: {Error}")]
    private partial void LogStepFailed(string analysis, string step, string error);

    /// <summary>One run's bookkeeping; the scheduler loop is its only writer of the ready steps and counts, steps write their own report.</summary>
    private sealed class RunState
    {
        private readonly Dictionary<string, int> _waitingOn = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<AnalysisStep>> _dependents = new(StringComparer.Ordinal);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StepOutput> _outputs = new(StringComparer.Ordinal);

        public RunState(AnalysisDefinition analysis, CriticalPathScheduler scheduler)
        {
            Scheduler = scheduler;
            foreach (var step in analysis.Steps)
            {
                var dependencies = step.DependsOn.ToList();
                _waitingOn[step.Id] = dependencies.Count;
                foreach (var dependency in dependencies)
                {
                    (_dependents.TryGetValue(dependency, out var list) ? list : _dependents[dependency] = []).Add(step);
                }
                Reports[step.Id] = new StepReport(step.Id, step.Title, step.IsQuery ? "query" : "synthesis", step.QueryId, dependencies,
                    null, StepStatus.Pending, null, null, null, null, null, null, null);
                if (dependencies.Count == 0)
                {
                    Scheduler.MakeReady(step);
                }
            }
        }

        /// <summary>The ready steps and the critical one.</summary>
        public CriticalPathScheduler Scheduler { get; }

        public System.Collections.Concurrent.ConcurrentDictionary<string, StepReport> Reports { get; } = new(StringComparer.Ordinal);

        public int Ended { get; set; }

        public Dictionary<string, StepOutput> OutputsFor(AnalysisStep step) =>
            step.DependsOn.ToDictionary(d => d, d => _outputs[d], StringComparer.Ordinal);

        public void Complete(AnalysisStep step, StepReport report, StepOutput? output)
        {
            if (output is not null)
            {
                _outputs[step.Id] = output;
            }
            Reports[step.Id] = report;
        }

        public void Succeeded(string id)
        {
            foreach (var dependent in _dependents.GetValueOrDefault(id) ?? [])
            {
                if (--_waitingOn[dependent.Id] == 0 && Reports[dependent.Id].Status == StepStatus.Pending)
                {
                    Scheduler.MakeReady(dependent);
                }
            }
        }

        /// <summary>Marks every step downstream of <paramref name="id"/> skipped; returns their reports.</summary>
        public List<StepReport> SkipDownstream(string id)
        {
            var skipped = new List<StepReport>();
            var pending = new Queue<(string Cause, AnalysisStep Step)>((_dependents.GetValueOrDefault(id) ?? []).Select(d => (id, d)));
            while (pending.TryDequeue(out var next))
            {
                if (Reports[next.Step.Id].Status != StepStatus.Pending)
                {
                    continue;
                }
                var report = Reports[next.Step.Id] with
                {
                    Status = StepStatus.Skipped,
                    Error = $"Skipped: step '{next.Cause}' did not succeed.",
                };
                Reports[next.Step.Id] = report;
                skipped.Add(report);
                foreach (var further in _dependents.GetValueOrDefault(next.Step.Id) ?? [])
                {
                    pending.Enqueue((next.Step.Id, further));
                }
            }
            return skipped;
        }
    }
}
