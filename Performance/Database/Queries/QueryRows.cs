using System.Globalization;
using Npgsql;

namespace AspirePerf.Performance.Database.Queries;

/// <summary>How a result column is read from the wire and written out, from its PostgreSQL type.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The names are the CLR types each column is read as.")]
public enum ColumnKind
{
    Int16,
    Int32,
    Int64,
    Decimal,
    Double,
    Date,
    Boolean,
    Text,
}

/// <summary>
/// An open result of a registered query, read one row at a time from the server (Npgsql holds one row in memory):
/// it owns the pooled connection, its read-only transaction and the reader until disposed. Read rows with
/// <see cref="ReadAsync"/>, then take values by column with the typed readers, so a million rows never box a value.
/// </summary>
public sealed class QueryRows : IAsyncDisposable
{
    private readonly QueryDefinition _query;
    private readonly int _timeoutMs;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly NpgsqlCommand _command;
    private readonly NpgsqlDataReader _reader;

    internal QueryRows(QueryDefinition query, int timeoutMs, NpgsqlConnection connection, NpgsqlTransaction transaction,
        NpgsqlCommand command, NpgsqlDataReader reader)
    {
        _query = query;
        _timeoutMs = timeoutMs;
        _connection = connection;
        _transaction = transaction;
        _command = command;
        _reader = reader;
        Kinds = [.. Enumerable.Range(0, reader.FieldCount).Select(i => KindOf(reader.GetDataTypeName(i)))];
        Columns = [.. Enumerable.Range(0, reader.FieldCount).Select(i => new QueryColumn(reader.GetName(i), QueryExecutor.ColumnType(reader.GetDataTypeName(i))))];
        KeyOrdinal = query.Keyset is { } keyset ? reader.GetOrdinal(keyset.Column) : -1;
    }

    public IReadOnlyList<QueryColumn> Columns { get; }

    public IReadOnlyList<ColumnKind> Kinds { get; }

    /// <summary>The keyset column's ordinal, or -1 for a query without one.</summary>
    public int KeyOrdinal { get; }

    public NpgsqlDataReader Reader => _reader;

    /// <summary>Advances to the next row; a statement timeout surfaces as <see cref="QueryTimeoutException"/>.</summary>
    public Task<bool> ReadAsync(CancellationToken cancellationToken) =>
        QueryExecutor.Translate(_query.Id, _timeoutMs, () => _reader.ReadAsync(cancellationToken), cancellationToken);

    public bool IsNull(int ordinal) => _reader.IsDBNull(ordinal);

    /// <summary>The current row's values, boxed: integers as their width, numeric as decimal, dates as <see cref="DateOnly"/>.</summary>
    public object?[] CurrentValues()
    {
        var row = new object?[Kinds.Count];
        for (var i = 0; i < row.Length; i++)
        {
            row[i] = _reader.IsDBNull(i) ? null : Kinds[i] switch
            {
                ColumnKind.Int16 => _reader.GetInt16(i),
                ColumnKind.Int32 => _reader.GetInt32(i),
                ColumnKind.Int64 => _reader.GetInt64(i),
                ColumnKind.Decimal => _reader.GetDecimal(i),
                ColumnKind.Double => _reader.GetDouble(i),
                ColumnKind.Date => _reader.GetFieldValue<DateOnly>(i),
                ColumnKind.Boolean => _reader.GetBoolean(i),
                _ => Text(i),
            };
        }
        return row;
    }

    /// <summary>A text column's value; any other type PostgreSQL sends is written as its invariant text.</summary>
    public string Text(int ordinal) => _reader.GetFieldType(ordinal) == typeof(string)
        ? _reader.GetString(ordinal)
        : Convert.ToString(_reader.GetValue(ordinal), CultureInfo.InvariantCulture) ?? "";

    /// <summary>Ends the read-only transaction once every row was read.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await _reader.DisposeAsync();
        await _transaction.CommitAsync(cancellationToken);
        _completed = true;
    }

    private bool _completed;

    /// <summary>
    /// Releases the connection. Rows left unread (the client went away, a page was full, a write failed) are cancelled
    /// on the server first: disposing an Npgsql reader would otherwise read, and discard, every remaining row.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!_completed && !_reader.IsClosed)
        {
            try
            {
                _command.Cancel();
                await _reader.DisposeAsync();
            }
            catch (Exception ex) when (ex is PostgresException or NpgsqlException or OperationCanceledException or InvalidOperationException)
            {
                // The cancellation's own error (57014) or a broken connection: either way the connection is released below.
            }
        }
        await _reader.DisposeAsync();
        await _command.DisposeAsync();
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }

    /// <summary>By the type's name without modifiers (Npgsql reports <c>numeric(10,2)</c>).</summary>
    private static ColumnKind KindOf(string dataTypeName) => BaseTypeName(dataTypeName) switch
    {
        "smallint" => ColumnKind.Int16,
        "integer" => ColumnKind.Int32,
        "bigint" => ColumnKind.Int64,
        "numeric" => ColumnKind.Decimal,
        "real" or "double precision" => ColumnKind.Double,
        "date" => ColumnKind.Date,
        "boolean" => ColumnKind.Boolean,
        _ => ColumnKind.Text,
    };

    public static string BaseTypeName(string dataTypeName) =>
        dataTypeName.IndexOf('(', StringComparison.Ordinal) is var at and > 0 ? dataTypeName[..at] : dataTypeName;
}
