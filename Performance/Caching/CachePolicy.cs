namespace AspirePerf.Performance.Caching;

/// <summary>What to do with a freshly computed result: store it or not, in L1 or only L2, and for how long.</summary>
public sealed record CacheDecision(bool Store, bool UseL1, TimeSpan Ttl, string Reason);

/// <summary>
/// Adaptive TTL and admission, as pure functions of the profile and the measured cost and size of a result:
/// TTL = base × cost factor × size factor, clamped to the profile's [min, max].
/// The cost factor is √(cost / reference cost) within [0.5, 4]: a result that took 4× the reference cost lives
/// twice as long (it is worth more to keep), a cheap one half as long. The size factor is 1 up to the L1 limit and
/// 0.5 beyond it (big entries cost memory and Redis bandwidth; refresh them sooner).
/// </summary>
public static class CachePolicy
{
    public static CacheDecision Decide(CacheProfile profile, AdmissionOptions admission, string operation, double costMs, long bytes)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(admission);
        if (profile.NeverCache)
        {
            return new(false, false, TimeSpan.Zero, "profile never caches");
        }
        if (admission.ExcludedOperations.Contains(operation, StringComparer.Ordinal))
        {
            return new(false, false, TimeSpan.Zero, "operation excluded");
        }
        if (costMs < admission.MinCostMs)
        {
            return new(false, false, TimeSpan.Zero, $"cheaper to recompute ({costMs:0.###} ms < {admission.MinCostMs} ms)");
        }
        if (bytes > admission.MaxBytes)
        {
            return new(false, false, TimeSpan.Zero, $"too large ({bytes} bytes > {admission.MaxBytes})");
        }

        var costFactor = Math.Clamp(Math.Sqrt(costMs / admission.ReferenceCostMs), 0.5, 4);
        var sizeFactor = bytes > admission.MaxL1Bytes ? 0.5 : 1;
        var ttl = TimeSpan.FromTicks((long)(profile.BaseTtl.Ticks * costFactor * sizeFactor));
        ttl = ttl < profile.MinTtl ? profile.MinTtl : ttl > profile.MaxTtl ? profile.MaxTtl : ttl;
        var useL1 = profile.UseL1 && bytes <= admission.MaxL1Bytes;
        return new(true, useL1, ttl, useL1 ? "cached" : "cached in L2 only");
    }
}
