using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using RedisRateLimiting;
using StackExchange.Redis;

namespace AspirePerf.ApiService.Http;

/// <summary>One route class's limit: permits per fixed window, per caller (API key, or client address when anonymous).</summary>
public sealed class RateLimitPolicyOptions
{
    public int PermitLimit { get; set; }

    public int WindowSeconds { get; set; } = 10;

    /// <summary>Counted in Redis, so the limit holds across API instances; otherwise per instance.</summary>
    public bool Distributed { get; set; } = true;
}

/// <summary>
/// Rate limits per route class (section <c>RateLimits</c>). Reads are counted per instance by default: a Redis round
/// trip on every cached read would cost more than the read. Writes, operator and perf calls are counted in Redis and
/// fall back to a per-instance count of the same limit, never to an error, while Redis cannot answer.
/// </summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimits";
    public const string Reads = "reads";
    public const string Writes = "writes";
    public const string Operator = "operator";
    public const string Perf = "perf";

    public bool Enabled { get; set; } = true;

    /// <summary>Prefix of the Redis keys (instances that share limits share it).</summary>
    public string KeyPrefix { get; set; } = "aspireperf:ratelimit";

    public Dictionary<string, RateLimitPolicyOptions> Policies { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        // A guard against floods only (100,000 per second per caller): the benchmarks drive one caller at tens of thousands.
        [Reads] = new() { PermitLimit = 1_000_000, WindowSeconds = 10, Distributed = false },
        [Writes] = new() { PermitLimit = 100, WindowSeconds = 10 },
        [Operator] = new() { PermitLimit = 60, WindowSeconds = 10 },
        [Perf] = new() { PermitLimit = 1_000, WindowSeconds = 10 },
    };
}

/// <summary>
/// One circuit for every Redis-counted limit of this instance: after Redis failures (each of which waits out the
/// client's operation timeout, 5 s) the limits are counted locally without asking Redis for
/// <see cref="BreakDuration"/>, then one request tries Redis again. Without it every counted request waited those 5 s
/// for as long as Redis was down.
/// </summary>
public sealed partial class RateLimitRedisBreaker
{
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(10);

    private readonly CircuitBreakerStateProvider _state = new();

    public RateLimitRedisBreaker(ILogger<RateLimitRedisBreaker> logger)
    {
        Pipeline = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<RedisTimeoutException>().Handle<ObjectDisposedException>(),
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = BreakDuration,
                StateProvider = _state,
                OnOpened = _ =>
                {
                    LogOpened(logger, BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogClosed(logger);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public ResiliencePipeline Pipeline { get; }

    public CircuitState State => _state.CircuitState;

    [LoggerMessage(LogLevel.Warning, "Rate limits: Redis does not answer; counting per instance for {Seconds} s before trying it again")]
    private static partial void LogOpened(ILogger logger, double seconds);

    [LoggerMessage(LogLevel.Information, "Rate limits: Redis answers again; counting there")]
    private static partial void LogClosed(ILogger logger);
}

internal static partial class RateLimits
{
    public static void AddApiRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>()
            .BindConfiguration(RateLimitOptions.SectionName)
            .Validate(o => new[] { RateLimitOptions.Reads, RateLimitOptions.Writes, RateLimitOptions.Operator, RateLimitOptions.Perf }.All(o.Policies.ContainsKey),
                "RateLimits:Policies must define reads, writes, operator and perf.")
            .Validate(o => o.Policies.Values.All(p => p.PermitLimit is >= 1 and <= 10_000_000 && p.WindowSeconds is >= 1 and <= 3600),
                "RateLimits:Policies:*: PermitLimit must be 1 to 10,000,000 and WindowSeconds 1 to 3600.")
            .ValidateOnStart();

        builder.Services.AddSingleton<RateLimitRedisBreaker>();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = WriteRejectionAsync;
            foreach (var policy in new[] { RateLimitOptions.Reads, RateLimitOptions.Writes, RateLimitOptions.Operator, RateLimitOptions.Perf })
            {
                limiter.AddPolicy(policy, context => Partition(context, policy));
            }
        });
    }

    private static RateLimitPartition<string> Partition(HttpContext context, string policyName)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        if (!options.Enabled)
        {
            return RateLimitPartition.GetNoLimiter("off");
        }
        var policy = options.Policies[policyName];
        var caller = context.User.Identity?.IsAuthenticated == true
            ? "key:" + context.User.Identity.Name
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        var key = $"{options.KeyPrefix}:{policyName}:{caller}";
        // Only the key is built per request; a partition's limiter (and its options) is made once, on first use.
        if (!policy.Distributed)
        {
            return RateLimitPartition.GetFixedWindowLimiter(key, _ => LocalOptions(policy));
        }
        var redis = context.RequestServices.GetRequiredService<IConnectionMultiplexer>();
        var breaker = context.RequestServices.GetRequiredService<RateLimitRedisBreaker>();
        return RateLimitPartition.Get(key, k => new RedisWithLocalFallback(breaker,
            new RedisFixedWindowRateLimiter<string>(k, new RedisFixedWindowRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => redis,
                PermitLimit = policy.PermitLimit,
                Window = TimeSpan.FromSeconds(policy.WindowSeconds),
            }),
            new FixedWindowRateLimiter(LocalOptions(policy)),
            TimeSpan.FromSeconds(policy.WindowSeconds)));
    }

    private static FixedWindowRateLimiterOptions LocalOptions(RateLimitPolicyOptions policy) =>
        new() { PermitLimit = policy.PermitLimit, Window = TimeSpan.FromSeconds(policy.WindowSeconds), QueueLimit = 0 };

    private static async ValueTask WriteRejectionAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) && wait > TimeSpan.Zero
            ? wait
            : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = $"This caller's limit for this kind of request is used up; retry after {Math.Ceiling(retryAfter.TotalSeconds)} s.",
            },
        });
    }

    /// <summary>
    /// The Redis-counted limiter, and the same limit counted in this instance while Redis cannot answer: a Redis outage
    /// loosens the limit to per instance for its duration instead of failing requests. Written here because the
    /// package throws when Redis is unreachable and has no fallback of its own.
    /// </summary>
    private sealed partial class RedisWithLocalFallback(RateLimitRedisBreaker breaker, RateLimiter distributed, RateLimiter local, TimeSpan window) : RateLimiter
    {
        public override TimeSpan? IdleDuration => distributed.IdleDuration is { } d && local.IdleDuration is { } l ? (d < l ? d : l) : null;

        public override RateLimiterStatistics? GetStatistics() => distributed.GetStatistics();

        // ASP.NET Core's middleware tries the synchronous path first and awaits only when it fails: refusing here
        // sends every request to the count in Redis (the package's own limiter does the same).
        protected override RateLimitLease AttemptAcquireCore(int permitCount) => NotAcquired.Instance;

        protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
        {
            try
            {
                var lease = await breaker.Pipeline.ExecuteAsync(static (state, token) => state.distributed.AcquireAsync(state.permitCount, token),
                    (distributed, permitCount), cancellationToken).ConfigureAwait(false);
                if (lease.IsAcquired)
                {
                    return lease;
                }
                // The package reports its retry-after as whole seconds (an int): handed on as the TimeSpan the middleware reads.
                var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter.Name, out var wait) && wait is int seconds and > 0
                    ? TimeSpan.FromSeconds(seconds)
                    : window;
                return new RetryAfterLease(lease, retryAfter);
            }
            catch (Exception ex) when (ex is RedisException or RedisTimeoutException or ObjectDisposedException or BrokenCircuitException)
            {
                return await local.AcquireAsync(permitCount, cancellationToken).ConfigureAwait(false);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                distributed.Dispose();
                local.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private sealed class NotAcquired : RateLimitLease
    {
        public static readonly NotAcquired Instance = new();

        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }

    /// <summary>A refusal that tells the caller when to retry.</summary>
    private sealed class RetryAfterLease(RateLimitLease inner, TimeSpan retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => inner.IsAcquired;

        public override IEnumerable<string> MetadataNames => [.. inner.MetadataNames.Where(n => n != MetadataName.RetryAfter.Name), MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = retryAfter;
                return true;
            }
            return inner.TryGetMetadata(metadataName, out metadata);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
