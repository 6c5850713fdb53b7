using AspirePerf.Performance.Orchestration;

namespace AspirePerf.Performance.Tests;

public sealed class RecentAnalysisOutcomesTests
{
    [Fact]
    public void Counts_outcomes_in_the_window_and_forgets_older_ones()
    {
        var time = new ManualTime { Now = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero) };
        var outcomes = new RecentAnalysisOutcomes(time);
        outcomes.Record(AnalysisStatus.Failed);
        time.Now += TimeSpan.FromMinutes(4);
        outcomes.Record(AnalysisStatus.Partial);
        outcomes.Record(AnalysisStatus.Complete);

        Assert.Equal(new AnalysisOutcomeCounts(1, 1, 1), outcomes.Counts(TimeSpan.FromMinutes(5)));
        Assert.Equal(new AnalysisOutcomeCounts(1, 1, 0), outcomes.Counts(TimeSpan.FromMinutes(1)));
        time.Now += TimeSpan.FromMinutes(11);
        Assert.Equal(new AnalysisOutcomeCounts(0, 0, 0), outcomes.Counts(RecentAnalysisOutcomes.MaxWindow));
    }
}

internal sealed class ManualTime : TimeProvider
{
    public DateTimeOffset Now { get; set; }

    public override DateTimeOffset GetUtcNow() => Now;
}
