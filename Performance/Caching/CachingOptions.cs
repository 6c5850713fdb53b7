using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Caching;

/// <summary>The <c>Caching</c> configuration section. Validated at start.</summary>
public sealed class CachingOptions : IValidatableObject
{
    public const string SectionName = "Caching";

    /// <summary>Kill switch: false bypasses the cache entirely (every answer is computed, X-Cache: BYPASS).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>First segment of every key, so several systems can share one Redis.</summary>
    [Required, RegularExpression("^[a-z0-9-]{1,32}$")]
    public string Namespace { get; set; } = "aspireperf";

    /// <summary>Bump when cached shapes change: old entries stop matching instead of being misread.</summary>
    [Range(1, 9999)]
    public int SchemaVersion { get; set; } = 2;

    /// <summary>Profiles by name (content types). Every cached operation names one.</summary>
    public Dictionary<string, CacheProfile> Profiles { get; set; } = new(StringComparer.Ordinal)
    {
        ["point-lookup"] = new() { BaseTtl = TimeSpan.FromMinutes(5), MinTtl = TimeSpan.FromSeconds(30), MaxTtl = TimeSpan.FromMinutes(30) },
        ["aggregate"] = new() { BaseTtl = TimeSpan.FromMinutes(10), MinTtl = TimeSpan.FromMinutes(1), MaxTtl = TimeSpan.FromHours(2) },
        ["analysis"] = new() { BaseTtl = TimeSpan.FromMinutes(30), MinTtl = TimeSpan.FromMinutes(5), MaxTtl = TimeSpan.FromHours(6) },
        ["dashboard"] = new() { BaseTtl = TimeSpan.FromMinutes(1), MinTtl = TimeSpan.FromSeconds(10), MaxTtl = TimeSpan.FromMinutes(5) },
        ["export"] = new() { BaseTtl = TimeSpan.FromMinutes(10), MinTtl = TimeSpan.FromMinutes(1), MaxTtl = TimeSpan.FromHours(1), UseL1 = false },
        ["realtime"] = new() { NeverCache = true },
    };

    [ValidateObjectMembers]
    public AdmissionOptions Admission { get; set; } = new();

    /// <summary>One computation per key across the cluster (a lease per key in Redis).</summary>
    [ValidateObjectMembers]
    public CacheLeaseOptions Lease { get; set; } = new();

    /// <summary>The in-process cache (L1): how many bytes it may hold and how much a compaction frees.</summary>
    [ValidateObjectMembers]
    public L1CacheOptions L1 { get; set; } = new();

    /// <summary>How long past its TTL a value may still be served (X-Cache: STALE) when recomputing it fails.</summary>
    public TimeSpan StaleGracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Redis (L2) protection: a timeout per operation and a circuit that stops calling a failing Redis.</summary>
    public DistributedCacheResilienceOptions Distributed { get; set; } = new();

    /// <summary>Redis pub/sub channel for cross-node invalidation (suffixed with the namespace).</summary>
    public string BackplaneChannel { get; set; } = "cache-invalidation";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Profiles.Count == 0)
        {
            yield return new("Caching:Profiles must define at least one profile.");
        }
        foreach (var (name, profile) in Profiles)
        {
            if (profile.NeverCache)
            {
                continue;
            }
            if (profile.MinTtl <= TimeSpan.Zero || profile.MinTtl > profile.BaseTtl || profile.BaseTtl > profile.MaxTtl)
            {
                yield return new($"Caching:Profiles:{name} must have 0 < MinTtl ≤ BaseTtl ≤ MaxTtl (got {profile.MinTtl}, {profile.BaseTtl}, {profile.MaxTtl}).");
            }
        }
        if (StaleGracePeriod < TimeSpan.Zero)
        {
            yield return new("Caching:StaleGracePeriod must not be negative.");
        }
        if (Admission.MaxL1Bytes > L1.SizeLimitBytes)
        {
            yield return new($"Caching:Admission:MaxL1Bytes ({Admission.MaxL1Bytes}) must not exceed Caching:L1:SizeLimitBytes ({L1.SizeLimitBytes}): "
                + "an entry larger than the whole L1 would be refused on every write.");
        }
    }
}

public sealed class CacheProfile
{
    public TimeSpan BaseTtl { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan MinTtl { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan MaxTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Keep entries in process memory too (L1); off for large or rarely repeated content.</summary>
    public bool UseL1 { get; set; } = true;

    /// <summary>For non-deterministic results: always computed, never stored.</summary>
    public bool NeverCache { get; set; }
}

public sealed class AdmissionOptions
{
    /// <summary>Results computed faster than this are not cached: a Redis round-trip would cost about as much.</summary>
    [Range(0, 60_000)]
    public double MinCostMs { get; set; } = 0.5;

    /// <summary>Results larger than this stay out of L1 (they still go to Redis).</summary>
    [Range(1, int.MaxValue)]
    public int MaxL1Bytes { get; set; } = 512 * 1024;

    /// <summary>Results larger than this are not cached at all.</summary>
    [Range(1, int.MaxValue)]
    public int MaxBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Operations (e.g. query ids) never cached, whatever their profile.</summary>
    public List<string> ExcludedOperations { get; set; } = [];

    /// <summary>Execution cost at which the TTL equals the profile's base TTL; costlier results live longer.</summary>
    [Range(0.001, 600_000)]
    public double ReferenceCostMs { get; set; } = 100;
}

public sealed class L1CacheOptions
{
    /// <summary>
    /// Bytes of cached results L1 may hold, counted as HybridCache sizes its entries (their serialized length). When a
    /// write would pass the limit, MemoryCache refuses it (the entry is still in Redis) and compacts in the background.
    /// </summary>
    [Range(typeof(long), "1024", "1099511627776")]
    public long SizeLimitBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Once L1 is full, a background compaction brings it down to (1 − this) × the limit, least recently used first.</summary>
    [Range(0.01, 0.9)]
    public double CompactionPercentage { get; set; } = 0.05;
}

public sealed class DistributedCacheResilienceOptions
{
    /// <summary>An L2 read or write slower than this counts as a failure and is abandoned (the request goes on).</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>While open, L2 is skipped outright: no request pays a Redis timeout.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}
