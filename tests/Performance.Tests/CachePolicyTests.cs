using AspirePerf.Performance.Caching;

namespace AspirePerf.Performance.Tests;

/// <summary>Adaptive TTL and admission, one row per rule.</summary>
public sealed class CachePolicyTests
{
    private static readonly CacheProfile Aggregate = new() { BaseTtl = TimeSpan.FromMinutes(10), MinTtl = TimeSpan.FromMinutes(1), MaxTtl = TimeSpan.FromHours(2) };

    private static readonly AdmissionOptions Admission = new()
    {
        MinCostMs = 0.5,
        MaxL1Bytes = 1000,
        MaxBytes = 10_000,
        ReferenceCostMs = 100,
        ExcludedOperations = ["excluded-op"],
    };

    public static TheoryData<string, double, long, bool, bool, double, string> Rows() => new()
    {
        // operation, cost ms, bytes, store, L1, TTL minutes, reason contains
        { "op", 100, 500, true, true, 10, "cached" },                   // reference cost: base TTL
        { "op", 400, 500, true, true, 20, "cached" },                   // 4× the cost: √4 = 2× the TTL
        { "op", 25, 500, true, true, 5, "cached" },                     // a quarter of the cost: half the TTL
        { "op", 1, 500, true, true, 5, "cached" },                      // cost factor floors at 0.5
        { "op", 100_000, 500, true, true, 40, "cached" },               // cost factor caps at 4
        { "op", 100, 5000, true, false, 5, "L2 only" },                 // over the L1 limit: L2 only, half the TTL
        { "op", 0.2, 500, false, false, 0, "cheaper to recompute" },    // cheaper than a Redis round-trip
        { "op", 100, 20_000, false, false, 0, "too large" },            // over the size limit
        { "excluded-op", 100, 500, false, false, 0, "excluded" },       // excluded operation
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Decides_admission_placement_and_ttl(string operation, double costMs, long bytes, bool store, bool useL1, double ttlMinutes, string reason)
    {
        var decision = CachePolicy.Decide(Aggregate, Admission, operation, costMs, bytes);

        Assert.Equal(store, decision.Store);
        Assert.Equal(useL1, decision.UseL1);
        Assert.Equal(ttlMinutes, decision.Ttl.TotalMinutes, precision: 6);
        Assert.Contains(reason, decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Ttl_is_clamped_to_the_profile()
    {
        var narrow = new CacheProfile { BaseTtl = TimeSpan.FromMinutes(10), MinTtl = TimeSpan.FromMinutes(8), MaxTtl = TimeSpan.FromMinutes(12) };

        Assert.Equal(TimeSpan.FromMinutes(12), CachePolicy.Decide(narrow, Admission, "op", 100_000, 10).Ttl);
        Assert.Equal(TimeSpan.FromMinutes(8), CachePolicy.Decide(narrow, Admission, "op", 1, 10).Ttl);
    }

    [Fact]
    public void Never_cache_profiles_and_l1_off_profiles_are_honoured()
    {
        Assert.False(CachePolicy.Decide(new CacheProfile { NeverCache = true }, Admission, "op", 1000, 10).Store);
        var export = new CacheProfile { BaseTtl = TimeSpan.FromMinutes(10), MinTtl = TimeSpan.FromMinutes(1), MaxTtl = TimeSpan.FromHours(1), UseL1 = false };
        var decision = CachePolicy.Decide(export, Admission, "op", 1000, 10);
        Assert.True(decision.Store);
        Assert.False(decision.UseL1);
    }

    [Fact]
    public void Profiles_are_validated()
    {
        var options = new CachingOptions();
        options.Profiles["broken"] = new CacheProfile { BaseTtl = TimeSpan.FromMinutes(1), MinTtl = TimeSpan.FromMinutes(5), MaxTtl = TimeSpan.FromMinutes(10) };

        var errors = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();

        Assert.Contains(errors, e => e.ErrorMessage!.Contains("Caching:Profiles:broken", StringComparison.Ordinal));
        Assert.Empty(new CachingOptions().Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
    }
}
