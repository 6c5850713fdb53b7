using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;

namespace AspirePerf.Performance.Tests;

/// <summary>Graph validation at start: each broken graph fails with a message naming the analysis, the step and the fault.</summary>
public sealed class AnalysisGraphTests
{
    private static readonly QueryRegistry Queries = new(
    [
        new QueryDefinition("by-sector", "By sector", "", QueryKind.Aggregate, "SELECT @asOf, @sector")
        {
            Parameters =
            [
                new("asOf", QueryParameterType.Date, "") { Default = new DateOnly(2025, 6, 30) },
                new("sector", QueryParameterType.Text, ""),
            ],
            Columns = [new("sector", "text"), new("headcount", "integer")],
        },
        new QueryDefinition("employer", "Employer", "", QueryKind.PointLookup, "SELECT @employerId")
        {
            Parameters = [new("employerId", QueryParameterType.Integer, "") { Required = true }],
            Columns = [new("employer_id", "integer"), new("sector", "text")],
        },
        new QueryDefinition("listing", "Listing", "", QueryKind.Listing, "SELECT 1") { Keyset = new("id", "after") },
    ]);

    private static AnalysisStep Query(string id, string query, params (string, StepInput)[] inputs) => new(id, id)
    {
        QueryId = query,
        Inputs = inputs.ToDictionary(i => i.Item1, i => i.Item2),
    };

    private static AnalysisStep Synthesis(string id, params string[] after) => new(id, id)
    {
        After = after,
        Synthesis = _ => new StepOutput([], []),
    };

    private static AnalysisDefinition Analysis(params AnalysisStep[] steps) => new("a", "A", "")
    {
        Parameters = [new("employerId", QueryParameterType.Integer, "") { Required = true }, new("day", QueryParameterType.Date, "")],
        Steps = steps,
    };

    private static string SingleProblem(AnalysisDefinition analysis)
    {
        var error = Assert.Throws<AnalysisGraphException>(() => new AnalysisRegistry([analysis], Queries));
        return Assert.Single(error.Problems);
    }

    [Fact]
    public void A_sound_graph_with_a_chain_through_an_upstream_column_is_accepted()
    {
        var registry = new AnalysisRegistry([Analysis(
            Query("employer", "employer", ("employerId", StepInput.Parameter("employerId"))),
            Query("sector", "by-sector", ("sector", StepInput.FromStep("employer", "sector")), ("asOf", StepInput.Parameter("day"))),
            Synthesis("summary", "employer", "sector"))], Queries);

        Assert.Equal(["employer"], registry.Find("a")!.Steps[1].DependsOn);
    }

    [Fact]
    public void A_cycle_is_named_step_by_step()
    {
        var problem = SingleProblem(Analysis(
            Query("start", "by-sector"),
            Synthesis("one", "start", "three"),
            Synthesis("two", "one"),
            Synthesis("three", "two")));

        Assert.Equal("analysis 'a' has a cycle: one → three → two → one", problem);
    }

    [Fact]
    public void Unknown_steps_and_queries_are_named()
    {
        var error = Assert.Throws<AnalysisGraphException>(() => new AnalysisRegistry([Analysis(
            Query("q", "no-such-query"),
            Synthesis("s", "ghost"))], Queries));

        Assert.Contains("analysis 'a', step 'q': unknown query 'no-such-query'", error.Problems);
        Assert.Contains("analysis 'a', step 's': depends on unknown step 'ghost'", error.Problems);
        Assert.Contains("no-such-query", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unmapped_required_parameter_is_named()
    {
        var problem = SingleProblem(Analysis(Query("e", "employer")));

        Assert.Equal("analysis 'a', step 'e': required parameter 'employerId' of query 'employer' is not mapped", problem);
    }

    [Fact]
    public void A_mapping_to_a_parameter_the_query_lacks_is_named()
    {
        var problem = SingleProblem(Analysis(Query("e", "employer", ("employerId", StepInput.Parameter("employerId")), ("colour", StepInput.Constant("red")))));

        Assert.StartsWith("analysis 'a', step 'e': maps 'colour', which query 'employer' does not have", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("parameter")]
    [InlineData("constant")]
    [InlineData("upstream")]
    public void A_mistyped_mapping_is_named_with_both_types(string source)
    {
        StepInput input = source switch
        {
            "parameter" => StepInput.Parameter("day"),
            "constant" => StepInput.Constant("one hundred"),
            _ => StepInput.FromStep("sector", "sector"),
        };
        var problem = SingleProblem(Analysis(
            Query("sector", "by-sector"),
            Query("e", "employer", ("employerId", input))));

        Assert.StartsWith("analysis 'a', step 'e': parameter 'employerId' is Integer but is mapped from ", problem, StringComparison.Ordinal);
        Assert.EndsWith(source == "parameter" ? "which is Date" : "which is Text", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_analysis_parameter_or_upstream_column_is_named()
    {
        var error = Assert.Throws<AnalysisGraphException>(() => new AnalysisRegistry([Analysis(
            Query("sector", "by-sector", ("asOf", StepInput.Parameter("when"))),
            Query("e", "employer", ("employerId", StepInput.FromStep("sector", "employer_id"))))], Queries));

        Assert.Contains("analysis 'a', step 'sector': parameter 'asOf' is mapped from unknown analysis parameter 'when'", error.Problems);
        Assert.Contains(error.Problems, p => p.StartsWith("analysis 'a', step 'e': parameter 'employerId' is mapped from column 'employer_id' of step 'sector', which has no such column", StringComparison.Ordinal));
    }

    [Fact]
    public void Malformed_steps_are_named()
    {
        var error = Assert.Throws<AnalysisGraphException>(() => new AnalysisRegistry(
        [
            Analysis(new AnalysisStep("neither", "x"), Synthesis("lonely"), Query("page", "listing"), Query("page", "by-sector")),
            new AnalysisDefinition("empty", "Empty", ""),
        ], Queries));

        Assert.Contains("analysis 'a', step 'neither': must name either a query or a synthesis, not both or neither", error.Problems);
        Assert.Contains("analysis 'a', step 'lonely': a synthesis must run after at least one step", error.Problems);
        Assert.Contains("analysis 'a', step 'page': query 'listing' is a listing; a step reads an aggregate or a point lookup", error.Problems);
        Assert.Contains("analysis 'a': step 'page' is declared 2 times", error.Problems);
        Assert.Contains("analysis 'empty' has no steps", error.Problems);
    }

    [Fact]
    public void The_critical_path_is_the_longest_chain_of_step_times()
    {
        var analysis = Analysis(
            Query("employer", "employer", ("employerId", StepInput.Parameter("employerId"))),
            Query("sector", "by-sector", ("sector", StepInput.FromStep("employer", "sector"))),
            Query("wide", "by-sector"),
            Synthesis("summary", "sector", "wide"));
        StepReport Took(string id, double ms) => new(id, id, "query", null, [], null, StepStatus.Succeeded, null, null, 0, ms, null, null, null);

        var path = AnalysisRunner.CriticalPath(analysis, new Dictionary<string, StepReport>
        {
            ["employer"] = Took("employer", 10),
            ["sector"] = Took("sector", 30),
            ["wide"] = Took("wide", 35),
            ["summary"] = Took("summary", 1),
        });

        Assert.Equal(41, path); // employer → sector → summary (10 + 30 + 1) beats wide → summary (35 + 1)
    }
}
