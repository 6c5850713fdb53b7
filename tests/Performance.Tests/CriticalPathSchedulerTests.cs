using AspirePerf.Performance.Orchestration;

namespace AspirePerf.Performance.Tests;

/// <summary>The step cost model (EWMA, equal weights before any measurement) and the critical-path list scheduler over it.</summary>
public sealed class CriticalPathSchedulerTests
{
    // a → b → sink, c → sink, d → sink (a's chain is two steps long).
    private static readonly AnalysisDefinition Graph = new("g", "G", "")
    {
        Steps =
        [
            Step("c"),
            Step("d"),
            Step("a"),
            Step("b", "a"),
            Step("sink", "b", "c", "d"),
        ],
    };

    private static AnalysisStep Step(string id, params string[] after) => new(id, id) { QueryId = "q", After = after };

    private static List<string> TakeAll(CriticalPathScheduler scheduler)
    {
        var order = new List<string>();
        while (scheduler.TryTakeNext(out var step))
        {
            order.Add(step.Id);
        }
        return order;
    }

    [Fact]
    public void The_estimate_is_the_first_measurement_then_an_exponentially_weighted_average()
    {
        var costs = new StepCostModel();
        Assert.Null(costs.Estimate("g", "a"));

        costs.Observe("g", "a", 100);
        Assert.Equal(100, costs.Estimate("g", "a"));
        costs.Observe("g", "a", 200);
        Assert.Equal(100 + StepCostModel.NewestWeight * 100, costs.Estimate("g", "a")!.Value, 9);
        costs.Observe("g", "a", double.NaN); // not a measurement
        Assert.Equal(130, costs.Estimate("g", "a")!.Value, 9);
        Assert.Null(costs.Estimate("other", "a")); // per analysis
    }

    [Fact]
    public void Before_any_measurement_every_step_weighs_the_same_then_unmeasured_steps_weigh_the_mean_of_the_measured()
    {
        var costs = new StepCostModel();
        Assert.All(costs.EstimatesFor(Graph).Values, w => Assert.Equal(StepCostModel.EqualWeight, w));

        costs.Observe("g", "a", 100);
        costs.Observe("g", "c", 300);
        var estimates = costs.EstimatesFor(Graph);
        Assert.Equal(100, estimates["a"]);
        Assert.Equal(300, estimates["c"]);
        Assert.Equal(200, estimates["b"]);
        Assert.Equal(200, estimates["sink"]);
    }

    [Fact]
    public void Only_steps_that_computed_their_answer_are_measurements()
    {
        StepReport Report(StepStatus status, string? cache) =>
            new("a", "a", "query", "q", [], null, status, null, cache, 0, 12.5, null, null, null);

        Assert.True(StepCostModel.Measures(Report(StepStatus.Succeeded, "miss")));
        Assert.True(StepCostModel.Measures(Report(StepStatus.Succeeded, "bypass")));
        Assert.True(StepCostModel.Measures(Report(StepStatus.Succeeded, "none"))); // a synthesis
        Assert.False(StepCostModel.Measures(Report(StepStatus.Succeeded, "hit")));
        Assert.False(StepCostModel.Measures(Report(StepStatus.Succeeded, "stale")));
        Assert.False(StepCostModel.Measures(Report(StepStatus.Failed, null)));
        Assert.False(StepCostModel.Measures(Report(StepStatus.TimedOut, null)));
    }

    [Fact]
    public void With_equal_weights_the_longest_chain_starts_first_and_equals_keep_their_declaration_order()
    {
        var scheduler = new CriticalPathScheduler(Graph, new StepCostModel().EstimatesFor(Graph));
        foreach (var root in Graph.Steps.Where(s => !s.DependsOn.Any()))
        {
            scheduler.MakeReady(root);
        }

        Assert.Equal(3, scheduler.RemainingPath["a"]); // a, b, sink
        Assert.Equal(2, scheduler.RemainingPath["c"]);
        Assert.Equal(["a", "c", "d"], TakeAll(scheduler));
    }

    [Fact]
    public void Measured_durations_reorder_the_ready_steps_by_remaining_path()
    {
        var costs = new StepCostModel();
        foreach (var (step, ms) in new[] { ("a", 10.0), ("b", 30.0), ("c", 50.0), ("d", 35.0), ("sink", 1.0) })
        {
            costs.Observe("g", step, ms);
        }
        var scheduler = new CriticalPathScheduler(Graph, costs.EstimatesFor(Graph));
        foreach (var root in Graph.Steps.Where(s => !s.DependsOn.Any()))
        {
            scheduler.MakeReady(root);
        }

        Assert.Equal(51, scheduler.RemainingPath["c"]);
        Assert.Equal(41, scheduler.RemainingPath["a"]); // 10 + 30 + 1
        Assert.Equal(["c", "a", "d"], TakeAll(scheduler));
    }

    [Fact]
    public void Without_critical_path_scheduling_steps_start_in_declaration_order_and_none_is_critical()
    {
        var scheduler = CriticalPathScheduler.InDeclarationOrder(Graph);
        foreach (var root in Graph.Steps.Where(s => !s.DependsOn.Any()))
        {
            scheduler.MakeReady(root);
        }

        Assert.True(scheduler.TryTakeNext(out var first));
        Assert.False(scheduler.Start(first, 0));
        Assert.Equal(["c", "d", "a"], [first.Id, .. TakeAll(scheduler)]);
    }

    [Fact]
    public void One_running_step_at_a_time_is_critical_and_a_successor_is_only_if_its_path_outlasts_what_the_running_steps_have_left()
    {
        var costs = new StepCostModel();
        foreach (var (step, ms) in new[] { ("a", 100.0), ("b", 100.0), ("c", 150.0), ("d", 20.0), ("sink", 1.0) })
        {
            costs.Observe("g", step, ms);
        }
        var scheduler = new CriticalPathScheduler(Graph, costs.EstimatesFor(Graph));
        var steps = Graph.Steps.ToDictionary(s => s.Id);
        foreach (var root in new[] { "c", "d", "a" })
        {
            scheduler.MakeReady(steps[root]);
        }

        Assert.True(scheduler.TryTakeNext(out var first));
        Assert.Equal("a", first.Id); // 201 beats c's 151
        Assert.True(scheduler.Start(first, 0));
        Assert.True(scheduler.TryTakeNext(out var second));
        Assert.False(scheduler.Start(second, 0)); // c: a is critical
        Assert.True(scheduler.TryTakeNext(out var third));
        Assert.False(scheduler.Start(third, 0));

        // a ends at 100 ms; b (101 left on its path) starts while c has 150 − 100 + 1 = 51 left: b is critical.
        scheduler.End("a");
        scheduler.MakeReady(steps["b"]);
        Assert.True(scheduler.TryTakeNext(out var fourth));
        Assert.True(scheduler.Start(fourth, 100));

        // Had a ended at 10 ms, c would still have 141 left, more than b's 101: b would not be critical.
        var early = new CriticalPathScheduler(Graph, costs.EstimatesFor(Graph));
        early.Start(steps["a"], 0);
        early.Start(steps["c"], 0);
        early.End("a");
        Assert.False(early.Start(steps["b"], 10));
    }
}
