namespace AspirePerf.Performance.Orchestration;

/// <summary>
/// One run's choice of which ready step starts next and which step is on the critical path, from estimated step
/// durations (<see cref="StepCostModel"/>): classic critical-path list scheduling (the order HEFT uses on one kind of
/// processor). A step's <em>remaining path</em> is its own estimate plus the longest chain of estimates through its
/// dependents: the least time the analysis needs from that step's start.
/// <list type="bullet">
/// <item>Ready steps start longest remaining path first (ties: declaration order), which matters when a parallelism
/// limit leaves some of them waiting.</item>
/// <item>At most one running step is <em>critical</em>: a starting step is, when no critical step is running and its
/// remaining path is at least what is left of every running step's (its remaining path less the time it has run, its
/// own part never below zero). The runner spares that step's query the database-parallelism cap.</item>
/// </list>
/// Not thread-safe: the runner's scheduler loop is its only caller. Times are ms from the run's start.
/// </summary>
public sealed class CriticalPathScheduler
{
    private readonly IReadOnlyDictionary<string, double> _estimates;
    private readonly Dictionary<string, double> _remaining = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _declared = new(StringComparer.Ordinal);
    private readonly PriorityQueue<AnalysisStep, (double NegativeRemaining, int Declared)> _ready = new();
    private readonly Dictionary<string, double> _runningSince = new(StringComparer.Ordinal);
    private readonly bool _marksCritical;
    private string? _critical;

    /// <param name="estimates">Every step's estimated duration (<see cref="StepCostModel.EstimatesFor"/>).</param>
    public CriticalPathScheduler(AnalysisDefinition analysis, IReadOnlyDictionary<string, double> estimates)
        : this(analysis, estimates, marksCritical: true)
    {
    }

    private CriticalPathScheduler(AnalysisDefinition analysis, IReadOnlyDictionary<string, double> estimates, bool marksCritical)
    {
        _marksCritical = marksCritical;
        ArgumentNullException.ThrowIfNull(analysis);
        ArgumentNullException.ThrowIfNull(estimates);
        _estimates = estimates;
        var dependents = analysis.Steps.ToDictionary(s => s.Id, _ => new List<string>(), StringComparer.Ordinal);
        for (var i = 0; i < analysis.Steps.Count; i++)
        {
            _declared[analysis.Steps[i].Id] = i;
            foreach (var dependency in analysis.Steps[i].DependsOn)
            {
                dependents[dependency].Add(analysis.Steps[i].Id);
            }
        }
        double Remaining(string id) => _remaining.TryGetValue(id, out var known) ? known
            : _remaining[id] = estimates[id] + dependents[id].Select(Remaining).DefaultIfEmpty(0).Max();
        foreach (var step in analysis.Steps)
        {
            Remaining(step.Id);
        }
    }

    /// <summary>Ready steps in declaration order and no step critical: scheduling without estimates (for comparison).</summary>
    public static CriticalPathScheduler InDeclarationOrder(AnalysisDefinition analysis)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        return new(analysis, analysis.Steps.ToDictionary(s => s.Id, _ => 0.0, StringComparer.Ordinal), marksCritical: false);
    }

    /// <summary>Each step's remaining path in ms (estimated): its estimate plus the longest chain of its dependents' estimates.</summary>
    public IReadOnlyDictionary<string, double> RemainingPath => _remaining;

    /// <summary>The step may start: all its dependencies succeeded.</summary>
    public void MakeReady(AnalysisStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        _ready.Enqueue(step, (-_remaining[step.Id], _declared[step.Id]));
    }

    /// <summary>The ready step with the longest remaining path (the first declared among equals), taken off the ready list.</summary>
    public bool TryTakeNext(out AnalysisStep step) => _ready.TryDequeue(out step!, out _);

    /// <summary>Nothing more starts (the caller went away).</summary>
    public void ClearReady() => _ready.Clear();

    /// <summary>Records that <paramref name="step"/> starts at <paramref name="nowMs"/>; returns whether it is the critical step.</summary>
    public bool Start(AnalysisStep step, double nowMs)
    {
        ArgumentNullException.ThrowIfNull(step);
        var remaining = _remaining[step.Id];
        var critical = _marksCritical && _critical is null
            && (!_ready.TryPeek(out _, out var next) || -next.NegativeRemaining <= remaining)
            && _runningSince.All(r => remaining >= Left(r.Key, nowMs - r.Value));
        _runningSince[step.Id] = nowMs;
        if (critical)
        {
            _critical = step.Id;
        }
        return critical;
    }

    /// <summary>The step ended, however it ended.</summary>
    public void End(string stepId)
    {
        _runningSince.Remove(stepId);
        if (_critical == stepId)
        {
            _critical = null;
        }
    }

    /// <summary>What is left of a running step's remaining path after it has run <paramref name="ranMs"/>.</summary>
    private double Left(string stepId, double ranMs) =>
        _remaining[stepId] - _estimates[stepId] + Math.Max(0, _estimates[stepId] - ranMs);
}
