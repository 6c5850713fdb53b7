namespace AspirePerf.Performance.Orchestration;

/// <summary>Analyses finished in a recent window, by outcome.</summary>
public sealed record AnalysisOutcomeCounts(long Complete, long Partial, long Failed);

/// <summary>
/// Analyses finished in this process over the last <see cref="MaxWindow"/>, by outcome, in time buckets of
/// <see cref="BucketSeconds"/> (constant memory, old outcomes age out). The meter's counter only grows and lives in
/// Prometheus; the overall status (GET /api/v1/perf/dashboard) needs "how many failed lately" in process.
/// </summary>
public sealed class RecentAnalysisOutcomes(TimeProvider time)
{
    public const int BucketSeconds = 10;
    private const int Buckets = 60;

    public static TimeSpan MaxWindow => TimeSpan.FromSeconds(Buckets * BucketSeconds);

    private readonly long[] _slots = [.. Enumerable.Repeat(-1L, Buckets)];
    private readonly long[,] _counts = new long[Buckets, 3];
    private readonly Lock _lock = new();

    public void Record(AnalysisStatus status)
    {
        var slot = CurrentSlot();
        var index = (int)(slot % Buckets);
        lock (_lock)
        {
            if (_slots[index] != slot)
            {
                _slots[index] = slot;
                _counts[index, 0] = _counts[index, 1] = _counts[index, 2] = 0;
            }
            _counts[index, (int)status]++;
        }
    }

    /// <summary>Outcomes in the last <paramref name="window"/> (at most <see cref="MaxWindow"/>), to a bucket's precision.</summary>
    public AnalysisOutcomeCounts Counts(TimeSpan window)
    {
        var slot = CurrentSlot();
        var oldest = slot - Math.Clamp((long)Math.Ceiling(window.TotalSeconds / BucketSeconds), 1, Buckets) + 1;
        long complete = 0, partial = 0, failed = 0;
        lock (_lock)
        {
            for (var i = 0; i < Buckets; i++)
            {
                if (_slots[i] >= oldest && _slots[i] <= slot)
                {
                    complete += _counts[i, (int)AnalysisStatus.Complete];
                    partial += _counts[i, (int)AnalysisStatus.Partial];
                    failed += _counts[i, (int)AnalysisStatus.Failed];
                }
            }
        }
        return new(complete, partial, failed);
    }

    private long CurrentSlot() => time.GetUtcNow().ToUnixTimeSeconds() / BucketSeconds;
}
