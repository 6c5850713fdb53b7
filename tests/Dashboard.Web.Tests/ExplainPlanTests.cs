using System.Text.Json;
using System.Text.Json.Nodes;
using AspirePerf.Dashboard.Web.Database;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Serialization.Json;

namespace AspirePerf.Dashboard.Web.Tests;

public sealed class ExplainPlanTests
{
    // EXPLAIN (ANALYZE, FORMAT JSON) as PostgreSQL 15 writes it for a headcount-by-sector query: an index scan repeated
    // once per employer (1,000 loops) under a nested loop, sorted, then grouped. The planner expected 50 joined rows.
    private const string Analyzed = """
        [
          {
            "Plan": {
              "Node Type": "Aggregate", "Strategy": "Sorted", "Partial Mode": "Simple", "Parallel Aware": false, "Async Capable": false,
              "Startup Cost": 1523.45, "Total Cost": 1580.12, "Plan Rows": 120, "Plan Width": 44,
              "Actual Startup Time": 35.2, "Actual Total Time": 41.7, "Actual Rows": 118, "Actual Loops": 1,
              "Output": ["e.sector", "count(*)"], "Group Key": ["e.sector"],
              "Plans": [
                {
                  "Node Type": "Sort", "Parent Relationship": "Outer", "Parallel Aware": false, "Async Capable": false,
                  "Startup Cost": 1523.45, "Total Cost": 1540.0, "Plan Rows": 6620, "Plan Width": 36,
                  "Actual Startup Time": 34.9, "Actual Total Time": 38.0, "Actual Rows": 6500, "Actual Loops": 1,
                  "Sort Key": ["e.sector"], "Sort Method": "quicksort", "Sort Space Used": 712, "Sort Space Type": "Memory",
                  "Plans": [
                    {
                      "Node Type": "Nested Loop", "Parent Relationship": "Outer", "Parallel Aware": false, "Async Capable": false,
                      "Join Type": "Inner", "Startup Cost": 0.43, "Total Cost": 1200.5, "Plan Rows": 50, "Plan Width": 36,
                      "Actual Startup Time": 0.05, "Actual Total Time": 30.1, "Actual Rows": 6500, "Actual Loops": 1, "Inner Unique": false,
                      "Plans": [
                        {
                          "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": false, "Async Capable": false,
                          "Relation Name": "employers", "Schema": "public", "Alias": "e",
                          "Startup Cost": 0.0, "Total Cost": 180.0, "Plan Rows": 100, "Plan Width": 36,
                          "Actual Startup Time": 0.01, "Actual Total Time": 2.1, "Actual Rows": 1000, "Actual Loops": 1,
                          "Filter": "(e.size > 10)", "Rows Removed by Filter": 0
                        },
                        {
                          "Node Type": "Index Scan", "Parent Relationship": "Inner", "Parallel Aware": false, "Async Capable": false,
                          "Scan Direction": "Forward", "Index Name": "ix_employment_spells_employer_id",
                          "Relation Name": "employment_spells", "Schema": "public", "Alias": "s",
                          "Startup Cost": 0.43, "Total Cost": 1.0, "Plan Rows": 1, "Plan Width": 8,
                          "Actual Startup Time": 0.003, "Actual Total Time": 0.025, "Actual Rows": 7, "Actual Loops": 1000,
                          "Index Cond": "(s.employer_id = e.id)", "Rows Removed by Index Recheck": 0
                        }
                      ]
                    }
                  ]
                }
              ]
            },
            "Planning Time": 0.412,
            "Triggers": [],
            "Execution Time": 42.3
          }
        ]
        """;

    [Fact]
    public void An_analyzed_plan_is_read_node_by_node_with_its_actuals()
    {
        var plan = ExplainPlan.Parse(JsonNode.Parse(Analyzed))!;

        Assert.True(plan.Analyzed);
        Assert.Equal(5, plan.NodeCount);
        Assert.False(plan.Truncated);
        Assert.Equal(0.412, plan.PlanningMs);
        Assert.Equal(42.3, plan.ExecutionMs);

        var nodes = ExplainPlan.Flatten(plan.Root).ToList();
        Assert.Equal(["Aggregate", "Sort", "Nested Loop", "Seq Scan", "Index Scan"], nodes.Select(n => n.NodeType));
        Assert.Equal([0, 1, 2, 3, 4], nodes.Select(n => n.Id));
        Assert.Equal([0, 1, 2, 3, 3], nodes.Select(n => n.Depth));

        var (aggregate, sort, join, seq, index) = (nodes[0], nodes[1], nodes[2], nodes[3], nodes[4]);
        Assert.Equal("Sorted", aggregate.Detail);
        Assert.Equal([("Group key", "e.sector")], aggregate.Conditions); // Output is not shown
        Assert.Null(sort.Detail); // "Outer" is the default side: not worth saying
        Assert.Equal([("Sort key", "e.sector")], sort.Conditions);
        Assert.Equal("Inner", join.Detail);
        Assert.Equal("employers e", seq.Relation);
        Assert.Equal([("Filter", "(e.size > 10)")], seq.Conditions);
        Assert.Equal("employment_spells s", index.Relation);
        Assert.Equal("ix_employment_spells_employer_id", index.Index);
        Assert.Equal("Inner", index.Detail);
        Assert.Equal([("Index condition", "(s.employer_id = e.id)")], index.Conditions);
        Assert.Equal(1000, index.ActualLoops);
        Assert.Equal(0.025, index.ActualTotalMs);
    }

    [Fact]
    public void Own_time_counts_every_loop_and_the_most_expensive_node_is_the_repeated_index_scan()
    {
        var plan = ExplainPlan.Parse(JsonNode.Parse(Analyzed))!;
        var nodes = ExplainPlan.Flatten(plan.Root).ToList();

        // Index scan: 0.025 ms × 1,000 loops; the join's own time is what is left of its 30.1 ms.
        Assert.Equal(25.0, nodes[4].ExclusiveMs!.Value, 6);
        Assert.Equal(2.1, nodes[3].ExclusiveMs!.Value, 6);
        Assert.Equal(30.1 - 2.1 - 25.0, nodes[2].ExclusiveMs!.Value, 6);
        Assert.Equal(38.0 - 30.1, nodes[1].ExclusiveMs!.Value, 6);
        Assert.Equal(41.7 - 38.0, nodes[0].ExclusiveMs!.Value, 6);
        Assert.Equal(4, plan.MostExpensiveId);
    }

    [Fact]
    public void A_tenfold_rows_misestimate_is_flagged_either_way_and_a_smaller_one_is_not()
    {
        var nodes = ExplainPlan.Flatten(ExplainPlan.Parse(JsonNode.Parse(Analyzed))!.Root).ToList();

        Assert.Equal(130, nodes[2].RowsMisestimate!.Value, 6); // planned 50, got 6,500
        Assert.True(nodes[2].IsMisestimated);
        Assert.Equal(10, nodes[3].RowsMisestimate!.Value, 6); // planned 100, got 1,000: exactly the factor
        Assert.True(nodes[3].IsMisestimated);
        Assert.Equal(7, nodes[4].RowsMisestimate!.Value, 6); // per loop: planned 1, got 7
        Assert.False(nodes[4].IsMisestimated);
        Assert.False(nodes[1].IsMisestimated); // 6,620 vs 6,500
        Assert.False(nodes[0].IsMisestimated);

        var over = Node("""{"Node Type": "Seq Scan", "Total Cost": 10, "Plan Rows": 5000, "Actual Total Time": 1, "Actual Rows": 0, "Actual Loops": 1}""");
        Assert.Equal(5000, over.RowsMisestimate); // none returned counts as one
        Assert.True(over.IsMisestimated);
    }

    [Fact]
    public void A_plan_without_ANALYZE_is_judged_by_each_nodes_own_cost()
    {
        var estimated = StripActuals(JsonNode.Parse(Analyzed)!);
        var plan = ExplainPlan.Parse(estimated)!;
        var nodes = ExplainPlan.Flatten(plan.Root).ToList();

        Assert.False(plan.Analyzed);
        Assert.Null(plan.PlanningMs);
        Assert.Null(plan.ExecutionMs);
        Assert.Equal(1580.12 - 1540.0, nodes[0].ExclusiveCost!.Value, 6);
        Assert.Equal(1540.0 - 1200.5, nodes[1].ExclusiveCost!.Value, 6);
        Assert.Equal(1200.5 - 180.0 - 1.0, nodes[2].ExclusiveCost!.Value, 6);
        Assert.Equal(180.0, nodes[3].ExclusiveCost!.Value, 6);
        Assert.Equal(1.0, nodes[4].ExclusiveCost!.Value, 6);
        Assert.Equal(2, plan.MostExpensiveId);
        Assert.All(nodes, n => Assert.Null(n.ExclusiveMs));
        Assert.All(nodes, n => Assert.Null(n.RowsMisestimate));
        Assert.All(nodes, n => Assert.False(n.IsMisestimated));
    }

    [Fact]
    public void The_plan_arrives_through_Kiota_as_an_untyped_value_and_reads_the_same()
    {
        var untyped = new JsonParseNode(JsonDocument.Parse(Analyzed).RootElement).GetObjectValue(UntypedNode.CreateFromDiscriminatorValue);

        var plan = ExplainPlan.From(untyped)!;
        var direct = ExplainPlan.Parse(JsonNode.Parse(Analyzed))!;

        Assert.Equal(direct.NodeCount, plan.NodeCount);
        Assert.Equal(direct.MostExpensiveId, plan.MostExpensiveId);
        Assert.Equal(ExplainPlan.Flatten(direct.Root).Select(n => (n.NodeType, n.Relation, n.TotalCost, n.ActualRows, n.ActualLoops)),
            ExplainPlan.Flatten(plan.Root).Select(n => (n.NodeType, n.Relation, n.TotalCost, n.ActualRows, n.ActualLoops)));
        Assert.Null(ExplainPlan.From(null));
        Assert.Null(ExplainPlan.From(new UntypedNull()));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""[{"Plan": "not an object"}]""")]
    [InlineData("""{"error": "statement not captured"}""")]
    public void Anything_that_is_not_an_EXPLAIN_document_is_no_plan(string json) =>
        Assert.Null(ExplainPlan.Parse(JsonNode.Parse(json)));

    [Fact]
    public void A_bare_plan_object_and_numbers_written_as_text_are_read_too()
    {
        var plan = ExplainPlan.Parse(JsonNode.Parse("""{"Plan": {"Node Type": "Result", "Total Cost": "0.01", "Plan Rows": 1}}"""))!;

        Assert.Equal(1, plan.NodeCount);
        Assert.Equal(0.01, plan.Root.TotalCost);
        Assert.Null(plan.MostExpensiveId); // one node: nothing to single out
    }

    [Fact]
    public void A_very_long_condition_is_cut()
    {
        var node = Node($$"""{"Node Type": "Seq Scan", "Filter": "{{new string('x', 1000)}}"}""");

        var (_, value) = Assert.Single(node.Conditions);
        Assert.Equal(301, value.Length);
        Assert.EndsWith("…", value, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deep_plan_stops_at_MaxDepth_levels()
    {
        var plan = ExplainPlan.Parse(Chain(100))!;
        var nodes = ExplainPlan.Flatten(plan.Root).ToList();

        Assert.True(plan.Truncated);
        Assert.Equal(ExplainPlan.MaxDepth, nodes.Max(n => n.Depth));
        Assert.Equal(ExplainPlan.MaxDepth + 1, plan.NodeCount);

        var fits = ExplainPlan.Parse(Chain(ExplainPlan.MaxDepth + 1))!;
        Assert.False(fits.Truncated);
        Assert.Equal(ExplainPlan.MaxDepth + 1, fits.NodeCount);
    }

    [Fact]
    public void A_wide_plan_stops_at_MaxNodes_nodes()
    {
        var plan = ExplainPlan.Parse(Wide(1000))!;

        Assert.True(plan.Truncated);
        Assert.Equal(ExplainPlan.MaxNodes, plan.NodeCount);
        Assert.Equal(ExplainPlan.MaxNodes, ExplainPlan.Flatten(plan.Root).Count());
        Assert.Equal(ExplainPlan.MaxNodes, ExplainPlan.Flatten(plan.Root).Select(n => n.Id).Distinct().Count());

        var fits = ExplainPlan.Parse(Wide(ExplainPlan.MaxNodes - 1))!;
        Assert.False(fits.Truncated);
        Assert.Equal(ExplainPlan.MaxNodes, fits.NodeCount);
    }

    [Fact]
    public void A_deep_and_wide_plan_respects_both_caps()
    {
        // Every node an Append of three: 3^k nodes at depth k, far beyond both caps.
        static JsonObject Tree(int depth) => new()
        {
            ["Node Type"] = "Append",
            ["Total Cost"] = 10.0 * (depth + 1),
            ["Plans"] = depth == 0 ? new JsonArray() : new JsonArray(Tree(depth - 1), Tree(depth - 1), Tree(depth - 1)),
        };
        var plan = ExplainPlan.Parse(new JsonArray(new JsonObject { ["Plan"] = Tree(9) }))!;

        Assert.True(plan.Truncated);
        Assert.Equal(ExplainPlan.MaxNodes, plan.NodeCount);
        Assert.True(ExplainPlan.Flatten(plan.Root).Max(n => n.Depth) <= ExplainPlan.MaxDepth);
    }

    [Fact]
    public void Format_writes_invariant_numbers_and_a_dash_for_none()
    {
        Assert.Equal("1234.57", ExplainPlan.Format(1234.5678));
        Assert.Equal("–", ExplainPlan.Format(null));
        Assert.Equal("1,235", ExplainPlan.Format(1234.6, "N0"));
    }

    private static ExplainNode Node(string json) => ExplainPlan.Parse(JsonNode.Parse($$"""[{"Plan": {{json}}}]"""))!.Root;

    private static JsonArray Chain(int length)
    {
        JsonObject? node = null;
        for (var i = 0; i < length; i++)
        {
            var parent = new JsonObject { ["Node Type"] = i == length - 1 ? "Limit" : "Subquery Scan", ["Total Cost"] = i + 1.0 };
            if (node is not null)
            {
                parent["Plans"] = new JsonArray(node);
            }
            node = parent;
        }
        return new JsonArray(new JsonObject { ["Plan"] = node });
    }

    private static JsonArray Wide(int children) => new JsonArray(new JsonObject
    {
        ["Plan"] = new JsonObject
        {
            ["Node Type"] = "Append",
            ["Total Cost"] = 5000.0,
            ["Plans"] = new JsonArray([.. Enumerable.Range(0, children).Select(i => (JsonNode)new JsonObject
            {
                ["Node Type"] = "Seq Scan", ["Relation Name"] = $"part_{i}", ["Total Cost"] = 1.0 + i,
            })]),
        },
    });

    private static JsonNode StripActuals(JsonNode document)
    {
        var top = (JsonObject)document[0]!;
        top.Remove("Planning Time");
        top.Remove("Execution Time");
        Strip((JsonObject)top["Plan"]!);
        return document;

        static void Strip(JsonObject node)
        {
            foreach (var name in node.Select(p => p.Key).Where(k => k.StartsWith("Actual", StringComparison.Ordinal)).ToList())
            {
                node.Remove(name);
            }
            foreach (var child in node["Plans"]?.AsArray().OfType<JsonObject>() ?? [])
            {
                Strip(child);
            }
        }
    }
}
