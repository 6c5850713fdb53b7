using AspirePerf.Performance.Database;

namespace AspirePerf.Performance.Tests;

/// <summary>Whether an applied index stays: the measured, call-weighted gain decides, not the planner's estimate.</summary>
public sealed class IndexApplyJudgementTests
{
    [Theory]
    // one statement: 10× faster stays; 5 % faster goes; slower goes
    [InlineData(new long[] { 1 }, new[] { 100.0 }, new[] { 10.0 }, true, "Kept")]
    [InlineData(new long[] { 1 }, new[] { 100.0 }, new[] { 95.0 }, false, "under the 10 %")]
    [InlineData(new long[] { 1 }, new[] { 1000.0 }, new[] { 5000.0 }, false, "got slower")]
    // weighted by calls: a frequent statement's gain outweighs a rare one's loss, and the other way round
    [InlineData(new long[] { 100, 1 }, new[] { 50.0, 100.0 }, new[] { 5.0, 150.0 }, true, "Kept")]
    [InlineData(new long[] { 1, 100 }, new[] { 50.0, 100.0 }, new[] { 5.0, 150.0 }, false, "got slower")]
    public void The_measured_call_weighted_gain_decides(long[] calls, double[] before, double[] after, bool keep, string says)
    {
        var statements = calls.Select((c, i) => (c, (double?)before[i], (double?)after[i])).ToList();

        var (kept, verdict) = IndexAdvisor.Judge(statements, minGain: 0.1);

        Assert.Equal(keep, kept);
        Assert.Contains(says, verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void Statements_without_a_measurement_do_not_vote_and_none_measured_keeps_it_unverified()
    {
        var (kept, verdict) = IndexAdvisor.Judge([(5, null, null)], 0.1);
        Assert.True(kept);
        Assert.Contains("without a measurement", verdict, StringComparison.Ordinal);

        Assert.False(IndexAdvisor.Judge([(5, null, null), (1, 100.0, 120.0)], 0.1).Keep);
    }
}
