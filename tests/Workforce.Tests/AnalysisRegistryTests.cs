using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Queries;

namespace AspirePerf.Workforce.Tests;

/// <summary>The workload's analyses pass the start-time validation and are the size the orchestration issue asks for.</summary>
public sealed class AnalysisRegistryTests
{
    [Fact]
    public void The_workforce_analyses_validate_against_the_query_registry_and_have_four_to_ten_steps_with_real_dependencies()
    {
        var registry = new AnalysisRegistry(WorkforceAnalyses.All, new QueryRegistry(WorkforceQueries.All));

        Assert.True(registry.All.Count >= 4);
        Assert.All(registry.All, analysis =>
        {
            Assert.InRange(analysis.Steps.Count, 4, 10);
            Assert.Contains(analysis.Steps, s => s.DependsOn.Any());
            Assert.Contains(analysis.Steps, s => !s.IsQuery);
        });
        // At least one analysis chains a query on an upstream query's value (not only a synthesis at the end).
        Assert.Contains(registry.All, a => a.Steps.Any(s => s.Inputs.Values.OfType<UpstreamInput>().Any()));
    }
}
