using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace AspirePerf.Performance.Profiling;

/// <summary>
/// The shape of a SQL statement, so executions that differ only in values count as one statement: comments
/// removed, whitespace collapsed, unquoted words lower-cased, string / numeric literals and parameters
/// (<c>$1</c>, <c>@name</c>) replaced by <c>?</c>, and every list of placeholders — <c>IN (?, ?, ?)</c>,
/// <c>ARRAY[?, ?]</c>, multi-row <c>VALUES (?, ?), (?, ?)</c> — folded to one element, whatever its length. Quoted
/// identifiers keep their case. The hash is XxHash64 of the normalized text, stable across processes and versions.
/// Written by hand: no .NET library normalizes PostgreSQL text this way (pg_stat_statements does it server-side,
/// but only after execution and without folding lists).
/// </summary>
public static class SqlFingerprint
{
    public static string Normalize(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        return Join(FoldRows(FoldValues(ExtractFields(Tokenize(sql)))));
    }

    private const string OperatorChars = "+-*/<>=~!#%^&|`?:";

    private static readonly HashSet<string> NonValueWords = new(StringComparer.Ordinal)
    {
        "select", "where", "and", "or", "not", "then", "else", "when", "by", "in", "values", "limit", "offset",
        "as", "is", "between", "like", "ilike", "case", "return", "returning", "set", "on", "having",
    };

    private static List<string> Tokenize(string sql)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '-' && Next(sql, i) == '-')
            {
                while (i < sql.Length && sql[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '/' && Next(sql, i) == '*')
            {
                i = SkipBlockComment(sql, i);
            }
            else if (c == '\'' || ((c is 'E' or 'e' or 'B' or 'b' or 'X' or 'x') && Next(sql, i) == '\'' && !WordBefore(sql, i)))
            {
                i = SkipString(sql, c == '\'' ? i : i + 1);
                Value(tokens);
            }
            else if (c == '$' && DollarTag(sql, i) is { } tag)
            {
                var end = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + tag.Length;
                Value(tokens);
            }
            else if ((c == '$' && char.IsAsciiDigit(Next(sql, i))) || (c == '@' && (char.IsAsciiLetter(Next(sql, i)) || Next(sql, i) == '_')))
            {
                i++;
                while (i < sql.Length && (char.IsAsciiLetterOrDigit(sql[i]) || sql[i] == '_'))
                {
                    i++;
                }
                Value(tokens);
            }
            else if (char.IsAsciiDigit(c) || (c == '.' && char.IsAsciiDigit(Next(sql, i))))
            {
                while (i < sql.Length && (char.IsAsciiDigit(sql[i]) || sql[i] == '.' || sql[i] is 'e' or 'E'
                    || (sql[i] is '+' or '-' && sql[i - 1] is 'e' or 'E')))
                {
                    i++;
                }
                Value(tokens);
            }
            else if (c == '"')
            {
                var end = sql.IndexOf('"', i + 1);
                end = end < 0 ? sql.Length - 1 : end;
                tokens.Add(sql[i..(end + 1)]);
                i = end + 1;
            }
            else if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] is '_' or '$'))
                {
                    i++;
                }
                tokens.Add(sql[start..i].ToLowerInvariant());
            }
            else if (OperatorChars.Contains(c, StringComparison.Ordinal))
            {
                var start = i;
                while (i < sql.Length && OperatorChars.Contains(sql[i], StringComparison.Ordinal)
                    && !(sql[i] == '-' && Next(sql, i) == '-') && !(sql[i] == '/' && Next(sql, i) == '*'))
                {
                    i++;
                }
                tokens.Add(sql[start..i]);
            }
            else
            {
                tokens.Add(c.ToString());
                i++;
            }
        }
        while (tokens.Count > 0 && tokens[^1] == ";")
        {
            tokens.RemoveAt(tokens.Count - 1);
        }
        return tokens;
    }

    // A literal or parameter; a unary minus in front of it ("= -5", "(-5", "select -5") is part of it.
    private static void Value(List<string> tokens)
    {
        if (tokens.Count > 0 && tokens[^1] == "-" && (tokens.Count == 1 || IsNonValue(tokens[^2])))
        {
            tokens.RemoveAt(tokens.Count - 1);
        }
        tokens.Add("?");
    }

    private static bool IsNonValue(string token) =>
        token is "(" or "[" or "," || NonValueWords.Contains(token) || OperatorChars.Contains(token[0], StringComparison.Ordinal);

    // "extract(year from x)" → "extract(? from x)": pg_stat_statements treats the field as a constant, and the
    // fingerprints of its entries must match those of the statements as sent.
    private static List<string> ExtractFields(List<string> tokens)
    {
        for (var i = 0; i + 3 < tokens.Count; i++)
        {
            if (tokens[i] == "extract" && tokens[i + 1] == "(" && tokens[i + 3] == "from")
            {
                tokens[i + 2] = "?";
            }
        }
        return tokens;
    }

    // "(?, ?, ?)" → "(?)" inside brackets only (IN lists, ARRAY[...], a VALUES row); a select list keeps its arity.
    private static List<string> FoldValues(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var depth = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            depth += tokens[i] is "(" or "[" ? 1 : tokens[i] is ")" or "]" ? -1 : 0;
            if (depth > 0 && tokens[i] == "," && result.Count > 0 && result[^1] == "?" && i + 1 < tokens.Count && tokens[i + 1] == "?")
            {
                i++;
                continue;
            }
            result.Add(tokens[i]);
        }
        return result;
    }

    // "(?), (?), (?)" → "(?)" (multi-row VALUES).
    private static List<string> FoldRows(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] == "," && result.Count >= 3 && result[^3] == "(" && result[^2] == "?" && result[^1] == ")"
                && i + 3 < tokens.Count && tokens[i + 1] == "(" && tokens[i + 2] == "?" && tokens[i + 3] == ")")
            {
                i += 3;
                continue;
            }
            result.Add(tokens[i]);
        }
        return result;
    }

    // One space between tokens, none inside brackets, before commas, around '.' and '::', or before a call's '('.
    private static string Join(List<string> tokens)
    {
        var text = new StringBuilder();
        string? previous = null;
        foreach (var token in tokens)
        {
            var glued = previous is null or "(" or "[" or "." or "::"
                || token is ")" or "]" or "," or "." or ";" or "::"
                || (token is "(" or "[" && (char.IsLetterOrDigit(previous[^1]) || previous[^1] is '_' or '"'));
            if (!glued)
            {
                text.Append(' ');
            }
            text.Append(token);
            previous = token;
        }
        return text.ToString();
    }

    private static bool WordBefore(string sql, int i) => i > 0 && (char.IsLetterOrDigit(sql[i - 1]) || sql[i - 1] is '_' or '"');

    /// <summary>A 16-hex-digit hash of the normalized statement.</summary>
    public static string Hash(string normalizedSql)
    {
        ArgumentNullException.ThrowIfNull(normalizedSql);
        Span<byte> hash = stackalloc byte[8];
        XxHash64.Hash(Encoding.UTF8.GetBytes(normalizedSql), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    public static (string Normalized, string Hash) Of(string sql)
    {
        var normalized = Normalize(sql);
        return (normalized, Hash(normalized));
    }

    private static char Next(string sql, int i) => i + 1 < sql.Length ? sql[i + 1] : '\0';

    private static int SkipBlockComment(string sql, int i)
    {
        var depth = 0;
        while (i < sql.Length)
        {
            if (sql[i] == '/' && Next(sql, i) == '*')
            {
                depth++;
                i += 2;
            }
            else if (sql[i] == '*' && Next(sql, i) == '/')
            {
                depth--;
                i += 2;
                if (depth == 0)
                {
                    return i;
                }
            }
            else
            {
                i++;
            }
        }
        return i;
    }

    // A '…' string; '' is an escaped quote, and in E'…' strings \' is too.
    private static int SkipString(string sql, int quote)
    {
        var escapes = quote > 0 && sql[quote - 1] is 'E' or 'e';
        var i = quote + 1;
        while (i < sql.Length)
        {
            if (escapes && sql[i] == '\\')
            {
                i += 2;
                continue;
            }
            if (sql[i] == '\'')
            {
                if (Next(sql, i) == '\'')
                {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        return i;
    }

    // $$ or $tag$ opening a dollar-quoted string.
    private static string? DollarTag(string sql, int i)
    {
        var j = i + 1;
        while (j < sql.Length && (char.IsAsciiLetterOrDigit(sql[j]) || sql[j] == '_'))
        {
            j++;
        }
        if (j < sql.Length && sql[j] == '$' && (j == i + 1 || !char.IsAsciiDigit(sql[i + 1])))
        {
            return sql[i..(j + 1)];
        }
        return null;
    }
}
