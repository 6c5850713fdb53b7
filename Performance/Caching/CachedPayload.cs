using System.Buffers;
using System.Buffers.Binary;
using System.ComponentModel;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Caching.Hybrid;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// A cached response: the serialized body as sent to clients, its content type, what computing it cost and when it
/// began (<see cref="CreatedAt"/>: a value reflects no change made after that instant; invalidations compare with it), and
/// for a paged answer the opaque continuation (the next page's cursor). Immutable, so HybridCache hands out the same
/// instance on an L1 hit instead of deserializing a copy; what is derived from the body (entity tag, compressed
/// forms) is computed on first use and kept with it, so a hit never hashes or compresses again.
/// </summary>
[ImmutableObject(true)]
public sealed class CachedPayload(ReadOnlyMemory<byte> body, string contentType, double costMs, DateTimeOffset createdAt, string? continuation = null)
{
    public const string Brotli = "br";
    public const string Gzip = "gzip";

    public ReadOnlyMemory<byte> Body { get; } = body;
    public string ContentType { get; } = contentType;
    public double CostMs { get; } = costMs;

    /// <summary>The cost as the API reports it (<c>X-Exec-Time</c>, two decimals, invariant), formatted once.</summary>
    public string CostText => _costText ??= CostMs.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private string? _costText;
    public DateTimeOffset CreatedAt { get; } = createdAt;
    public string? Continuation { get; } = continuation;

    /// <summary>
    /// A strong entity tag: the body's 128-bit XxHash, so every node serving the same bytes gives the same tag.
    /// Computed on first use and kept (an L1 hit hands out this same instance); a racing second computation is harmless.
    /// </summary>
    public string ETag => _etag ??= $"\"{Hash}\"";

    /// <summary>The entity tag of the body in <paramref name="encoding"/> (a strong tag names one exact byte sequence).</summary>
    public string ETagFor(string? encoding) => encoding switch
    {
        Brotli => _etagBrotli ??= $"\"{Hash}-br\"",
        Gzip => _etagGzip ??= $"\"{Hash}-gzip\"",
        _ => ETag,
    };

    /// <summary>
    /// The body compressed with <paramref name="encoding"/> (br or gzip, CompressionLevel.Optimal), made once per
    /// instance; empty when compressing would not make it smaller.
    /// </summary>
    public ReadOnlyMemory<byte> Compressed(string encoding) => encoding switch
    {
        Brotli => _brotli ??= Compress(Body.Span, encoding),
        Gzip => _gzip ??= Compress(Body.Span, encoding),
        _ => throw new ArgumentOutOfRangeException(nameof(encoding), encoding, "br or gzip"),
    };

    private string Hash => _hash ??= Convert.ToHexStringLower(XxHash128.Hash(Body.Span));

    private string? _hash;
    private string? _etag;
    private string? _etagBrotli;
    private string? _etagGzip;
    private byte[]? _brotli;
    private byte[]? _gzip;

    private static byte[] Compress(ReadOnlySpan<byte> body, string encoding)
    {
        using var buffer = new MemoryStream(body.Length / 4 + 64);
        using (Stream compressor = encoding == Brotli
            ? new BrotliStream(buffer, CompressionLevel.Optimal, leaveOpen: true)
            : new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            compressor.Write(body);
        }
        return buffer.Length < body.Length ? buffer.ToArray() : [];
    }
}

/// <summary>
/// A compact binary layout for L2: cost (8 bytes), creation time in UTC ticks (8), content-type length (2) and
/// bytes, continuation length (2) and bytes, then the body. JSON-in-JSON would double-encode the body; this copies
/// it once. (Layout changes come with a new Caching:SchemaVersion, so old entries are never misread.)
/// </summary>
public sealed class CachedPayloadSerializer : IHybridCacheSerializer<CachedPayload>
{
    public CachedPayload Deserialize(ReadOnlySequence<byte> source)
    {
        var bytes = source.IsSingleSegment ? source.FirstSpan : source.ToArray();
        var cost = BinaryPrimitives.ReadDoubleLittleEndian(bytes);
        var created = new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]), TimeSpan.Zero);
        var typeLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[16..]);
        var contentType = Encoding.UTF8.GetString(bytes.Slice(18, typeLength));
        var at = 18 + typeLength;
        var continuationLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
        var continuation = continuationLength == 0 ? null : Encoding.UTF8.GetString(bytes.Slice(at + 2, continuationLength));
        return new CachedPayload(bytes[(at + 2 + continuationLength)..].ToArray(), contentType, cost, created, continuation);
    }

    public void Serialize(CachedPayload value, IBufferWriter<byte> target)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(target);
        var type = Encoding.UTF8.GetBytes(value.ContentType);
        var continuation = Encoding.UTF8.GetBytes(value.Continuation ?? "");
        var header = 18 + type.Length + 2 + continuation.Length;
        var span = target.GetSpan(header);
        BinaryPrimitives.WriteDoubleLittleEndian(span, value.CostMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], value.CreatedAt.UtcTicks);
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], checked((ushort)type.Length));
        type.CopyTo(span[18..]);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(18 + type.Length)..], checked((ushort)continuation.Length));
        continuation.CopyTo(span[(20 + type.Length)..]);
        target.Advance(header);
        target.Write(value.Body.Span);
    }
}
