using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AspirePerf.Performance.Database.Queries;

/// <summary>The streamed forms of a query's rows.</summary>
public enum RowFormat
{
    /// <summary><c>application/x-ndjson</c>: one JSON object per row, one row per line.</summary>
    Ndjson,
    /// <summary><c>application/json</c>: one JSON array of row objects.</summary>
    JsonArray,
    /// <summary><c>text/csv</c> (RFC 4180): a header row, then one line per row.</summary>
    Csv,
}

/// <summary>
/// Writes open query rows to a pipe as they arrive from the database: each row is formatted straight from the reader
/// into the pipe's buffer, and the pipe is flushed every <see cref="FlushBytes"/>, which waits while the client (or
/// file) is slower than the database. Memory stays at one row plus one chunk, however many rows there are.
/// </summary>
public static class QueryRowWriter
{
    public const int FlushBytes = 32 * 1024;

    public const int ProgressEveryRows = 10_000;

    public static string ContentType(RowFormat format) => format switch
    {
        RowFormat.Ndjson => "application/x-ndjson; charset=utf-8",
        RowFormat.Csv => "text/csv; charset=utf-8",
        _ => "application/json; charset=utf-8",
    };

    /// <summary>Writes every remaining row; returns how many. <paramref name="progress"/> hears the count every <see cref="ProgressEveryRows"/> rows.</summary>
    /// <exception cref="OperationCanceledException">The reader of the pipe went away.</exception>
    public static async Task<long> WriteAsync(QueryRows rows, PipeWriter output, RowFormat format, JavaScriptEncoder? encoder,
        Func<long, CancellationToken, ValueTask>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(output);
        var names = rows.Columns.Select(c => JsonEncodedText.Encode(c.Name, encoder)).ToArray();
        var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = encoder, SkipValidation = true });
        long count = 0;
        long pending = 0;
        if (format == RowFormat.JsonArray)
        {
            WriteAscii(output, "[");
        }
        else if (format == RowFormat.Csv)
        {
            pending += WriteCsvLine(output, rows.Columns.Select(c => c.Name));
        }
        while (await rows.ReadAsync(cancellationToken))
        {
            if (format == RowFormat.Csv)
            {
                pending += WriteCsvRow(output, rows);
            }
            else
            {
                if (format == RowFormat.JsonArray && count > 0)
                {
                    WriteAscii(output, ",");
                }
                json.Reset(output);
                WriteJsonRow(json, rows, names);
                json.Flush();
                pending += json.BytesCommitted + 1;
                if (format == RowFormat.Ndjson)
                {
                    WriteAscii(output, "\n");
                }
            }
            count++;
            if (pending >= FlushBytes)
            {
                pending = 0;
                await FlushAsync(output, cancellationToken);
            }
            if (progress is not null && count % ProgressEveryRows == 0)
            {
                await progress(count, cancellationToken);
            }
        }
        if (format == RowFormat.JsonArray)
        {
            WriteAscii(output, "]");
        }
        await FlushAsync(output, cancellationToken);
        return count;
    }

    private static async ValueTask FlushAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        var flushed = await output.FlushAsync(cancellationToken);
        if (flushed.IsCanceled || flushed.IsCompleted)
        {
            throw new OperationCanceledException("The reader of the rows went away.");
        }
    }

    private static void WriteJsonRow(Utf8JsonWriter json, QueryRows rows, JsonEncodedText[] names)
    {
        var reader = rows.Reader;
        Span<char> day = stackalloc char[10];
        json.WriteStartObject();
        for (var i = 0; i < names.Length; i++)
        {
            json.WritePropertyName(names[i]);
            if (reader.IsDBNull(i))
            {
                json.WriteNullValue();
                continue;
            }
            switch (rows.Kinds[i])
            {
                case ColumnKind.Int16: json.WriteNumberValue(reader.GetInt16(i)); break;
                case ColumnKind.Int32: json.WriteNumberValue(reader.GetInt32(i)); break;
                case ColumnKind.Int64: json.WriteNumberValue(reader.GetInt64(i)); break;
                case ColumnKind.Decimal: json.WriteNumberValue(reader.GetDecimal(i)); break;
                case ColumnKind.Double: json.WriteNumberValue(reader.GetDouble(i)); break;
                case ColumnKind.Boolean: json.WriteBooleanValue(reader.GetBoolean(i)); break;
                case ColumnKind.Date:
                    reader.GetFieldValue<DateOnly>(i).TryFormat(day, out var length, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                    json.WriteStringValue(day[..length]);
                    break;
                default: json.WriteStringValue(rows.Text(i)); break;
            }
        }
        json.WriteEndObject();
    }

    private static int WriteCsvRow(PipeWriter output, QueryRows rows)
    {
        var reader = rows.Reader;
        var written = 0;
        for (var i = 0; i < rows.Kinds.Count; i++)
        {
            if (i > 0)
            {
                written += WriteAscii(output, ",");
            }
            if (reader.IsDBNull(i))
            {
                continue;
            }
            written += rows.Kinds[i] switch
            {
                ColumnKind.Int16 => WriteFormattable(output, reader.GetInt16(i), default),
                ColumnKind.Int32 => WriteFormattable(output, reader.GetInt32(i), default),
                ColumnKind.Int64 => WriteFormattable(output, reader.GetInt64(i), default),
                ColumnKind.Decimal => WriteFormattable(output, reader.GetDecimal(i), default),
                ColumnKind.Double => WriteFormattable(output, reader.GetDouble(i), "R"),
                ColumnKind.Date => WriteFormattable(output, reader.GetFieldValue<DateOnly>(i), "yyyy-MM-dd"),
                ColumnKind.Boolean => WriteAscii(output, reader.GetBoolean(i) ? "true" : "false"),
                _ => WriteCsvText(output, rows.Text(i)),
            };
        }
        return written + WriteAscii(output, "\r\n");
    }

    private static int WriteCsvLine(PipeWriter output, IEnumerable<string> values)
    {
        var written = 0;
        foreach (var value in values)
        {
            written += (written > 0 ? WriteAscii(output, ",") : 0) + WriteCsvText(output, value);
        }
        return written + WriteAscii(output, "\r\n");
    }

    /// <summary>One CSV field: quoted, with quotes doubled, when it holds a comma, quote or line break.</summary>
    public static string CsvField(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;

    private static int WriteCsvText(PipeWriter output, string text) => WriteUtf8(output, CsvField(text));

    private static int WriteFormattable<T>(PipeWriter output, T value, ReadOnlySpan<char> format) where T : IUtf8SpanFormattable
    {
        var span = output.GetSpan(64);
        if (!value.TryFormat(span, out var written, format, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"A {typeof(T).Name} did not fit 64 bytes.");
        }
        output.Advance(written);
        return written;
    }

    private static int WriteAscii(PipeWriter output, string text) => WriteUtf8(output, text);

    private static int WriteUtf8(PipeWriter output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        var written = Encoding.UTF8.GetBytes(text, span);
        output.Advance(written);
        return written;
    }
}
