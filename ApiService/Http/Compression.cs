using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.IO.Compression;
using AspirePerf.Performance.Caching;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AspirePerf.ApiService.Http;

/// <summary>Section <c>Http:Compression</c>.</summary>
public sealed class CompressionOptions
{
    public const string SectionName = "Http:Compression";

    public bool Enabled { get; set; } = true;

    /// <summary>Bodies smaller than this go uncompressed (when their length is known: cached answers, fixed bodies).</summary>
    [Range(0, int.MaxValue)]
    public int MinBytes { get; set; } = 1024;

    /// <summary>What gets compressed; everything else (images, already compressed files) is sent as it is.</summary>
    public string[] MimeTypes { get; set; } =
        ["application/json", "application/problem+json", "application/x-ndjson", "text/csv", "text/plain", "text/html", "text/css", "text/javascript"];
}

/// <summary>
/// Response compression: ASP.NET Core's middleware (brotli, then gzip, the fastest level, as bodies are compressed per
/// request) for everything compressible, and <see cref="CachedPayload.Compressed"/> for cached answers, which are
/// compressed once per entry at the best level and sent with their own encoding, so a hit never compresses. Both
/// report bytes before and after by encoding to <see cref="CompressionStatistics"/>.
/// </summary>
internal static class ResponseCompressionSetup
{
    public static void AddApiCompression(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(CompressionOptions.SectionName);
        builder.Services.AddOptions<CompressionOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart();
        var options = section.Get<CompressionOptions>() ?? new();
        builder.Services.AddSingleton<CompressionStatistics>();
        builder.Services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        builder.Services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        builder.Services.AddResponseCompression(o =>
        {
            // BREACH needs a secret reflected next to attacker-controlled text in one compressed body; these bodies
            // carry no secrets (no cookies, tokens or CSRF values), so HTTPS responses are compressed too.
            o.EnableForHttps = true;
            o.MimeTypes = options.MimeTypes;
            o.Providers.Add<MeteredBrotliProvider>();
            o.Providers.Add<MeteredGzipProvider>();
        });
        builder.Services.AddSingleton<IResponseCompressionProvider, ThresholdCompressionProvider>();
    }

    public static IApplicationBuilder UseApiCompression(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.ApplicationServices.GetRequiredService<IOptions<CompressionOptions>>().Value.Enabled ? app.UseResponseCompression() : app;
    }

    /// <summary>
    /// The encoding for a cached answer of <paramref name="length"/> bytes: br, else gzip, as the client accepts them
    /// (q-values honoured, q=0 refuses), or null for identity.
    /// </summary>
    public static string? ChooseEncoding(HttpRequest request, int length, CompressionOptions options)
    {
        var header = request.Headers.AcceptEncoding;
        if (header.Count == 0 || !options.Enabled || length < options.MinBytes
            || !StringWithQualityHeaderValue.TryParseList(header, out var accepted))
        {
            return null;
        }
        double Quality(string coding) =>
            accepted.Where(a => a.Value.Equals(coding, StringComparison.OrdinalIgnoreCase) || a.Value == "*").Select(a => a.Quality ?? 1).DefaultIfEmpty(0).Max();
        var br = Quality(CachedPayload.Brotli);
        var gzip = Quality(CachedPayload.Gzip);
        return br > 0 && br >= gzip ? CachedPayload.Brotli : gzip > 0 ? CachedPayload.Gzip : null;
    }
}

/// <summary>Bytes before and after compression, by encoding and source (dynamic: compressed for this response; cached: compressed once per entry).</summary>
public sealed class CompressionStatistics
{
    private readonly ConcurrentDictionary<(string Encoding, string Source), Counters> _counters = new();

    public CompressionStatistics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(CacheMetrics.MeterName);
        meter.CreateObservableCounter("aspireperf.http.compression.input", () => Measure(c => c.Input), "By",
            "Response bytes before compression, by encoding (br, gzip) and source (dynamic, cached).");
        meter.CreateObservableCounter("aspireperf.http.compression.output", () => Measure(c => c.Output), "By",
            "Response bytes after compression, by encoding and source.");
        meter.CreateObservableCounter("aspireperf.http.compression.responses", () => Measure(c => c.Responses), "{response}",
            "Compressed responses, by encoding and source.");
    }

    public void Record(string encoding, string source, long input, long output)
    {
        var counters = _counters.GetOrAdd((encoding, source), static _ => new Counters());
        Interlocked.Increment(ref counters.Responses);
        Interlocked.Add(ref counters.Input, input);
        Interlocked.Add(ref counters.Output, output);
    }

    public IReadOnlyList<CompressionStatisticsRow> Snapshot() =>
        [.. _counters.OrderBy(c => c.Key.Encoding, StringComparer.Ordinal).ThenBy(c => c.Key.Source, StringComparer.Ordinal)
            .Select(c => new CompressionStatisticsRow(c.Key.Encoding, c.Key.Source, Volatile.Read(ref c.Value.Responses),
                Volatile.Read(ref c.Value.Input), Volatile.Read(ref c.Value.Output),
                c.Value.Input == 0 ? 0 : Math.Round((double)c.Value.Output / c.Value.Input, 4)))];

    private IEnumerable<Measurement<long>> Measure(Func<Counters, long> value) =>
        _counters.Select(c => new Measurement<long>(value(c.Value), new("encoding", c.Key.Encoding), new("source", c.Key.Source)));

    private sealed class Counters
    {
        public long Responses;
        public long Input;
        public long Output;
    }
}

public sealed record CompressionStatisticsRow(string Encoding, string Source, long Responses, long BytesBefore, long BytesAfter, double Ratio);

/// <summary>
/// The framework's choice (MIME type, Accept-Encoding, HTTPS mode), plus what it lacks: no compression below
/// <see cref="CompressionOptions.MinBytes"/> when the length is known, and none for a body that already has an encoding.
/// </summary>
internal sealed class ThresholdCompressionProvider(IServiceProvider services, IOptions<ResponseCompressionOptions> framework, IOptions<CompressionOptions> options)
    : IResponseCompressionProvider
{
    private readonly ResponseCompressionProvider _inner = new(services, framework);

    public ICompressionProvider? GetCompressionProvider(HttpContext context) => _inner.GetCompressionProvider(context);

    public bool CheckRequestAcceptsCompression(HttpContext context) => _inner.CheckRequestAcceptsCompression(context);

    public bool ShouldCompressResponse(HttpContext context)
    {
        var response = context.Response;
        return !response.Headers.ContainsKey(HeaderNames.ContentEncoding)
            && !(response.ContentLength is { } length && length < options.Value.MinBytes)
            && _inner.ShouldCompressResponse(context);
    }
}

/// <summary>A framework provider whose streams count what goes in and what comes out (no library meters compression).</summary>
internal abstract class MeteredCompressionProvider(ICompressionProvider inner, CompressionStatistics statistics) : ICompressionProvider
{
    public string EncodingName => inner.EncodingName;

    public bool SupportsFlush => inner.SupportsFlush;

    public Stream CreateStream(Stream outputStream)
    {
        var output = new CountingStream(outputStream, leaveOpen: true, onClose: null);
        var compressor = inner.CreateStream(output);
        return new CountingStream(compressor, leaveOpen: false,
            onClose: input => statistics.Record(EncodingName, "dynamic", input, output.Count));
    }
}

internal sealed class MeteredBrotliProvider(IOptions<BrotliCompressionProviderOptions> options, CompressionStatistics statistics)
    : MeteredCompressionProvider(new BrotliCompressionProvider(options), statistics);

internal sealed class MeteredGzipProvider(IOptions<GzipCompressionProviderOptions> options, CompressionStatistics statistics)
    : MeteredCompressionProvider(new GzipCompressionProvider(options), statistics);

/// <summary>A write-only pass-through that counts the bytes written; on close it reports them.</summary>
internal sealed class CountingStream(Stream inner, bool leaveOpen, Action<long>? onClose) : Stream
{
    private bool _closed;

    public long Count { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Count += count;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        Count += buffer.Length;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        Count += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_closed)
        {
            _closed = true;
            if (!leaveOpen)
            {
                inner.Dispose();
            }
            onClose?.Invoke(Count);
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_closed)
        {
            _closed = true;
            if (!leaveOpen)
            {
                await inner.DisposeAsync();
            }
            onClose?.Invoke(Count);
        }
        await base.DisposeAsync();
    }
}
