using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using AspirePerf.Performance.Caching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Database.Queries;

/// <summary>
/// Opaque, tamper-evident keyset cursors: the last row's key, signed (HMAC-SHA256, 128 bits kept) together with the
/// query id and its canonical parameters. A cursor edited by hand, made for another query or for other parameters,
/// or signed with another key fails verification; nothing in it is secret, it only cannot be forged.
/// Layout, base64url: version (1 byte), key (8, little-endian), tag (16): 34 characters.
/// </summary>
public sealed partial class QueryCursors
{
    private const byte Version = 1;
    private const int TagLength = 16;
    private const int Length = 1 + 8 + TagLength;
    private const int MaxTextLength = 64;
    private static readonly System.Buffers.SearchValues<char> Alphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    private readonly byte[] _key;

    public QueryCursors(IOptions<QueryExecutionOptions> options, ILogger<QueryCursors> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Value.CursorSigningKey is { Length: > 0 } configured)
        {
            if (configured.Length < 32)
            {
                throw new InvalidOperationException("Queries:CursorSigningKey must be a secret of at least 32 characters.");
            }
            _key = Encoding.UTF8.GetBytes(configured);
        }
        else
        {
            _key = RandomNumberGenerator.GetBytes(32);
            LogEphemeralKey(logger);
        }
    }

    public string Create(QueryDefinition query, BoundParameters parameters, long after)
    {
        Span<byte> cursor = stackalloc byte[Length];
        cursor[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(cursor[1..], after);
        Sign(query, parameters, cursor[..9], cursor[9..]);
        return Base64Url.EncodeToString(cursor);
    }

    /// <summary>The key a cursor continues after, when it is one of ours for this very query and these parameters.</summary>
    public bool TryRead(QueryDefinition query, BoundParameters parameters, string? text, out long after)
    {
        after = 0;
        Span<byte> cursor = stackalloc byte[Length + 3];
        // Only the base64url alphabet is decoded: anything else (control characters, non-ASCII) is refused before it.
        if (text is null || text.Length > MaxTextLength || text.AsSpan().ContainsAnyExcept(Alphabet)
            || !Base64Url.TryDecodeFromChars(text, cursor, out var written)
            || written != Length || cursor[0] != Version)
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[TagLength];
        Sign(query, parameters, cursor[..9], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, cursor.Slice(9, TagLength)))
        {
            return false;
        }
        after = BinaryPrimitives.ReadInt64LittleEndian(cursor[1..]);
        return true;
    }

    private void Sign(QueryDefinition query, BoundParameters parameters, ReadOnlySpan<byte> body, Span<byte> tag)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        var scope = Encoding.UTF8.GetBytes(query.Id + "\n" + CacheKeys.CanonicalForm(parameters.Values));
        var message = new byte[body.Length + scope.Length];
        body.CopyTo(message);
        scope.CopyTo(message.AsSpan(body.Length));
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, message, mac);
        mac[..TagLength].CopyTo(tag);
    }

    [LoggerMessage(LogLevel.Warning, "Queries:CursorSigningKey is not set: page cursors are signed with a key of this process only, " +
        "so they stop working on restart and on other nodes")]
    private static partial void LogEphemeralKey(ILogger logger);
}
