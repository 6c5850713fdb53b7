using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AspirePerf.Performance.Caching;

/// <summary>
/// Deterministic keys: <c>&lt;namespace&gt;:v&lt;schema&gt;:&lt;operation&gt;:&lt;hash&gt;</c>. The hash covers the parameters in a
/// canonical form: names lower-cased and sorted, each value tagged with its type and written invariantly (1.50 and
/// 1.5 are the same number; 1 the integer and "1" the text are not). So parameter order, name casing and numeric
/// formatting never change a key, distinct parameters never share one (SHA-256, 128 bits kept), and keys are bounded
/// (operation names longer than 64 characters are hashed too).
/// </summary>
public static class CacheKeys
{
    public const int MaxOperationLength = 64;

    public static string For(string @namespace, int schemaVersion, string operation, IEnumerable<KeyValuePair<string, object?>> parameters)
    {
        ArgumentException.ThrowIfNullOrEmpty(operation);
        var canonical = CanonicalForm(parameters);
        var op = operation.Length <= MaxOperationLength && operation.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? operation
            : "h" + Hash(operation)[..16];
        return $"{@namespace}:v{schemaVersion}:{op}:{Hash(canonical)}";
    }

    /// <summary>The parameters as one string: names lower-cased and sorted, values typed and invariant.</summary>
    public static string CanonicalForm(IEnumerable<KeyValuePair<string, object?>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var canonical = new StringBuilder();
        foreach (var (name, value) in parameters.OrderBy(p => p.Key.ToLowerInvariant(), StringComparer.Ordinal))
        {
            canonical.Append(name.ToLowerInvariant()).Append('=').Append(Canonical(value)).Append('\n');
        }
        return canonical.ToString();
    }

    private static string Canonical(object? value) => value switch
    {
        null => "null",
        string s => "s:" + s.Length.ToString(CultureInfo.InvariantCulture) + ":" + s,
        bool b => b ? "b:true" : "b:false",
        DateOnly d => "d:" + d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateTime dt => "t:" + dt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset dto => "t:" + dto.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        byte or sbyte or short or ushort or int or uint or long or ulong or decimal or float or double =>
            "n:" + Convert.ToDecimal(value, CultureInfo.InvariantCulture).ToString("0.############################", CultureInfo.InvariantCulture),
        _ => "o:" + Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
}
