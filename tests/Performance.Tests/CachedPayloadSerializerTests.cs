using System.Buffers;
using AspirePerf.Performance.Caching;

namespace AspirePerf.Performance.Tests;

public sealed class CachedPayloadSerializerTests
{
    [Fact]
    public void Round_trips_body_content_type_cost_and_creation_time()
    {
        var serializer = new CachedPayloadSerializer();
        var original = new CachedPayload("{\"rows\":[[1,\"é\"]]}"u8.ToArray(), "application/json; charset=utf-8", 123.45, new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.FromHours(3)));
        var buffer = new ArrayBufferWriter<byte>();

        serializer.Serialize(original, buffer);
        var copy = serializer.Deserialize(new ReadOnlySequence<byte>(buffer.WrittenMemory));

        Assert.Equal(original.Body.ToArray(), copy.Body.ToArray());
        Assert.Equal(original.ContentType, copy.ContentType);
        Assert.Equal(original.CostMs, copy.CostMs);
        Assert.Equal(original.CreatedAt, copy.CreatedAt);
    }
}
