using AspirePerf.Bench.Sla;

namespace AspirePerf.Bench.Tests;

/// <summary>The statistical verdict: significant and large enough, or no change.</summary>
public sealed class BaselineComparisonTests
{
    private static readonly double[] Baseline = [100, 104, 98, 101, 103];

    [Fact]
    public void Identical_samples_are_no_change()
    {
        var c = BaselineComparison.CompareOne("s", "p95", Baseline, Baseline, 0.05, 0.05);

        Assert.Equal(BaselineComparison.NoChange, c.Verdict);
        Assert.Equal(1, c.Ratio);
    }

    [Fact]
    public void A_clear_slowdown_beyond_the_minimum_effect_is_a_regression_and_a_speedup_an_improvement()
    {
        double[] slower = [120, 125, 119, 123, 122];
        double[] faster = [80, 82, 79, 81, 83];

        var regressed = BaselineComparison.CompareOne("s", "p95", Baseline, slower, 0.05, 0.05);
        var improved = BaselineComparison.CompareOne("s", "p95", Baseline, faster, 0.05, 0.05);

        Assert.Equal(BaselineComparison.Regressed, regressed.Verdict);
        Assert.Equal(0.0079, regressed.PValue); // exact two-sided p of two fully separated samples of five: 2 / C(10, 5)
        Assert.Equal(BaselineComparison.Improved, improved.Verdict);
    }

    [Fact]
    public void A_significant_shift_smaller_than_the_minimum_effect_is_no_change()
    {
        double[] slightlySlower = [106, 107, 106.5, 108, 107.5];

        var c = BaselineComparison.CompareOne("s", "p95", Baseline, slightlySlower, 0.10, 0.05);

        Assert.True(c.PValue < 0.05);
        Assert.Equal(BaselineComparison.NoChange, c.Verdict);
    }

    [Fact]
    public void A_large_shift_that_is_not_significant_is_no_change()
    {
        double[] noisy = [60, 190, 100, 240, 70];

        var c = BaselineComparison.CompareOne("s", "p95", Baseline, noisy, 0.05, 0.05);

        Assert.True(c.PValue >= 0.05);
        Assert.Equal(BaselineComparison.NoChange, c.Verdict);
    }

    [Fact]
    public void A_baseline_compared_with_itself_is_no_change_on_every_metric()
    {
        var runs = Enumerable.Range(1, 5).Select(i => SlaReportTests.Run(i, p95: 40 + i, errorRate: i % 2 == 0 ? 0.001 : 0)).ToList();

        var comparisons = BaselineComparison.Compare(runs, runs, 0.05, 0.05);

        Assert.NotEmpty(comparisons);
        Assert.Contains(comparisons, c => c.Metric == "errorRate");
        Assert.Contains(comparisons, c => c.Metric == "lookup p95");
        Assert.All(comparisons, c => Assert.Equal(BaselineComparison.NoChange, c.Verdict));
    }
}
