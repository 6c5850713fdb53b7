using System.Buffers;
using System.Buffers.Binary;
using System.ComponentModel;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Caching.Hybrid;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// A cached response: the serialized body as sent to clients, its content type, what computing it cost and when.
/// Sealed and immutable, so HybridCache hands out the same instance on an L1 hit instead of deserializing a copy.
/// </summary>
[ImmutableObject(true)]
public sealed class CachedPayload(ReadOnlyMemory<byte> body, string contentType, double costMs, DateTimeOffset createdAt)
{
    public ReadOnlyMemory<byte> Body { get; } = body;
    public string ContentType { get; } = contentType;
    public double CostMs { get; } = costMs;
    public DateTimeOffset CreatedAt { get; } = createdAt;

    /// <summary>
    /// A strong entity tag: the body's 128-bit XxHash, so every node serving the same bytes gives the same tag.
    /// Computed on first use and kept (an L1 hit hands out this same instance); a racing second computation is harmless.
    /// </summary>
    public string ETag => _etag ??= $"\"{Convert.ToHexStringLower(XxHash128.Hash(Body.Span))}\"";

    private string? _etag;
}

/// <summary>
/// A compact binary layout for L2: cost (8 bytes), creation time in UTC ticks (8), content-type length (2) and
/// bytes, then the body. JSON-in-JSON would double-encode the body; this copies it once.
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
        return new CachedPayload(bytes[(18 + typeLength)..].ToArray(), contentType, cost, created);
    }

    public void Serialize(CachedPayload value, IBufferWriter<byte> target)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(target);
        var type = Encoding.UTF8.GetBytes(value.ContentType);
        var span = target.GetSpan(18 + type.Length);
        BinaryPrimitives.WriteDoubleLittleEndian(span, value.CostMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], value.CreatedAt.UtcTicks);
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], checked((ushort)type.Length));
        type.CopyTo(span[18..]);
        target.Advance(18 + type.Length);
        target.Write(value.Body.Span);
    }
}
