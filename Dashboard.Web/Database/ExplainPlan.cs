using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Kiota.Abstractions.Serialization;

namespace AspirePerf.Dashboard.Web.Database;

/// <summary>One node of an <c>EXPLAIN (FORMAT JSON)</c> plan, with the actual figures when the plan was analyzed.</summary>
public sealed record ExplainNode(
    int Id,
    int Depth,
    string NodeType,
    string? Relation,
    string? Index,
    string? Detail,
    IReadOnlyList<(string Name, string Value)> Conditions,
    double? StartupCost,
    double? TotalCost,
    double? PlanRows,
    double? ActualStartupMs,
    double? ActualTotalMs,
    double? ActualRows,
    double? ActualLoops,
    IReadOnlyList<ExplainNode> Children)
{
    /// <summary>The cost of this node alone (its total minus its children's): what the most expensive node is judged by.</summary>
    public double? ExclusiveCost => TotalCost is { } total ? Math.Max(0, total - Children.Sum(c => c.TotalCost ?? 0)) : null;

    /// <summary>Time spent in this node alone over all its loops, when the plan was analyzed.</summary>
    public double? ExclusiveMs => ActualTotalMs is { } total
        ? Math.Max(0, total * (ActualLoops ?? 1) - Children.Sum(c => (c.ActualTotalMs ?? 0) * (c.ActualLoops ?? 1)))
        : null;

    /// <summary>How far the planner's row estimate is from what the node returned (per loop, both sides at least 1): 10 or more is a misestimate.</summary>
    public double? RowsMisestimate => ActualRows is { } actual && PlanRows is { } planned
        ? Math.Max(Math.Max(actual, 1), Math.Max(planned, 1)) / Math.Min(Math.Max(actual, 1), Math.Max(planned, 1))
        : null;

    public bool IsMisestimated => RowsMisestimate >= ExplainPlan.MisestimateFactor;
}

/// <summary>
/// A plan as the console shows it: parsed from the JSON PostgreSQL wrote (Kiota hands it over untyped), bounded in depth
/// and node count so a huge plan cannot swamp the circuit, with its most expensive node marked.
/// </summary>
public sealed record ExplainPlan(ExplainNode Root, int NodeCount, bool Truncated, int? MostExpensiveId, bool Analyzed, double? PlanningMs, double? ExecutionMs)
{
    public const int MaxNodes = 300;
    public const int MaxDepth = 40;
    public const double MisestimateFactor = 10;

    private static readonly (string Json, string Label)[] ConditionKeys =
    [
        ("Index Cond", "Index condition"), ("Recheck Cond", "Recheck"), ("Hash Cond", "Hash condition"), ("Merge Cond", "Merge condition"),
        ("Join Filter", "Join filter"), ("Filter", "Filter"), ("Sort Key", "Sort key"), ("Group Key", "Group key"), ("Output", "Output"),
    ];

    /// <summary>The plan from the API's untyped value; null when it holds no plan (not captured, or not the shape EXPLAIN writes).</summary>
    public static ExplainPlan? From(UntypedNode? plan) => plan is null or UntypedNull ? null : Parse(ToJson(plan));

    public static ExplainPlan? Parse(JsonNode? json)
    {
        // EXPLAIN (FORMAT JSON) writes an array of one object: {"Plan": {...}, "Planning Time": .., "Execution Time": ..}.
        var top = json is JsonArray { Count: > 0 } array ? array[0] as JsonObject : json as JsonObject;
        if (top?["Plan"] is not JsonObject root)
        {
            return null;
        }
        var state = new ParseState();
        var tree = Node(root, 0, state);
        var all = Flatten(tree).ToList();
        var analyzed = all.Any(n => n.ActualTotalMs is not null);
        var expensive = all.Count > 1
            ? all.MaxBy(n => analyzed ? n.ExclusiveMs ?? 0 : n.ExclusiveCost ?? 0)?.Id
            : null;
        return new ExplainPlan(tree, all.Count, state.Truncated, expensive, analyzed, Number(top["Planning Time"]), Number(top["Execution Time"]));
    }

    public static IEnumerable<ExplainNode> Flatten(ExplainNode node)
    {
        yield return node;
        foreach (var child in node.Children)
        {
            foreach (var descendant in Flatten(child))
            {
                yield return descendant;
            }
        }
    }

    private static ExplainNode Node(JsonObject json, int depth, ParseState state)
    {
        var id = state.Count++;
        var children = new List<ExplainNode>();
        if (json["Plans"] is JsonArray plans)
        {
            foreach (var child in plans.OfType<JsonObject>())
            {
                if (depth + 1 > MaxDepth || state.Count >= MaxNodes)
                {
                    state.Truncated = true;
                    break;
                }
                children.Add(Node(child, depth + 1, state));
            }
        }
        var relation = Text(json["Relation Name"]) is { } name
            ? (Text(json["Alias"]) is { } alias && alias != name ? $"{name} {alias}" : name)
            : Text(json["CTE Name"]) is { } cte ? $"CTE {cte}" : Text(json["Function Name"]);
        var detail = string.Join(", ", new[] { Text(json["Join Type"]), Text(json["Strategy"]), Text(json["Parent Relationship"]) is { } parent and not "Outer" ? parent : null }
            .Where(s => !string.IsNullOrEmpty(s)));
        var conditions = ConditionKeys
            .Select(k => (k.Label, Value: json[k.Json] is JsonArray list ? string.Join(", ", list.Select(Text)) : Text(json[k.Json])))
            .Where(c => !string.IsNullOrEmpty(c.Value) && c.Label != "Output")
            .Select(c => (c.Label, c.Value!.Length > 300 ? c.Value[..300] + "…" : c.Value!))
            .ToList();
        return new ExplainNode(id, depth, Text(json["Node Type"]) ?? "?", relation, Text(json["Index Name"]), detail.Length > 0 ? detail : null, conditions,
            Number(json["Startup Cost"]), Number(json["Total Cost"]), Number(json["Plan Rows"]),
            Number(json["Actual Startup Time"]), Number(json["Actual Total Time"]), Number(json["Actual Rows"]), Number(json["Actual Loops"]),
            children);
    }

    private static string? Text(JsonNode? node) => node is JsonValue value
        ? value.TryGetValue<string>(out var s) ? s : value.ToJsonString()
        : node?.ToJsonString();

    private static double? Number(JsonNode? node) => node is JsonValue value
        ? value.TryGetValue<double>(out var d) ? d
        : value.TryGetValue<long>(out var l) ? l
        : value.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null
        : null;

    /// <summary>Kiota's untyped tree as System.Text.Json nodes (numbers as doubles, which is what a plan holds).</summary>
    public static JsonNode? ToJson(UntypedNode? node) => node switch
    {
        null or UntypedNull => null,
        UntypedObject obj => new JsonObject(obj.GetValue().Select(p => KeyValuePair.Create(p.Key, ToJson(p.Value)))),
        UntypedArray array => new JsonArray([.. array.GetValue().Select(ToJson)]),
        UntypedString s => s.GetValue() is { } text ? JsonValue.Create(text) : null,
        UntypedBoolean b => JsonValue.Create(b.GetValue()),
        UntypedInteger i => JsonValue.Create((double)i.GetValue()),
        UntypedLong l => JsonValue.Create((double)l.GetValue()),
        UntypedDouble d => JsonValue.Create(d.GetValue()),
        UntypedFloat f => JsonValue.Create((double)f.GetValue()),
        UntypedDecimal m => JsonValue.Create((double)m.GetValue()),
        _ => null,
    };

    public static string Format(double? value, string format = "0.##") =>
        value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    private sealed class ParseState
    {
        public int Count;
        public bool Truncated;
    }
}
