using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace AspirePerf.ApiService.Http;

/// <summary>
/// What one request may send, whatever the client: bodies, headers, the request line (path and query string).
/// Bound from <c>Http:Limits</c>; Kestrel enforces them and answers 413 / 431 / 414 before any endpoint runs.
/// </summary>
public sealed class RequestLimitOptions
{
    public const string SectionName = "Http:Limits";

    /// <summary>The largest request body; this API takes small JSON documents only (default 1 MiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>All request headers together (default 32 KiB, Kestrel's own).</summary>
    public int MaxRequestHeadersTotalBytes { get; set; } = 32 * 1024;

    /// <summary>The request line: method, path and query string (default 8 KiB, Kestrel's own).</summary>
    public int MaxRequestLineBytes { get; set; } = 8 * 1024;
}

internal static class RequestLimits
{
    public static void AddRequestLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RequestLimitOptions>()
            .BindConfiguration(RequestLimitOptions.SectionName)
            .Validate(o => o.MaxRequestBodyBytes is >= 1024 and <= 64L * 1024 * 1024, "Http:Limits:MaxRequestBodyBytes must be between 1 KiB and 64 MiB.")
            .Validate(o => o.MaxRequestHeadersTotalBytes is >= 4096 and <= 1024 * 1024, "Http:Limits:MaxRequestHeadersTotalBytes must be between 4 KiB and 1 MiB.")
            .Validate(o => o.MaxRequestLineBytes is >= 1024 and <= 64 * 1024, "Http:Limits:MaxRequestLineBytes must be between 1 KiB and 64 KiB.")
            .ValidateOnStart();
        builder.Services.AddSingleton<IConfigureOptions<KestrelServerOptions>, ConfigureKestrelLimits>();
    }

    private sealed class ConfigureKestrelLimits(IOptions<RequestLimitOptions> limits) : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions options)
        {
            options.Limits.MaxRequestBodySize = limits.Value.MaxRequestBodyBytes;
            options.Limits.MaxRequestHeadersTotalSize = limits.Value.MaxRequestHeadersTotalBytes;
            options.Limits.MaxRequestLineSize = limits.Value.MaxRequestLineBytes;
        }
    }
}
