using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspirePerf.Performance.Database.Queries;

public sealed class QueryExecutionOptions
{
    public const string SectionName = "Queries";

    /// <summary>Server-side statement timeout for every registered query unless overridden below.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 600_000)]
    public int StatementTimeoutMs { get; set; } = 30_000;

    /// <summary>Per-query overrides by query id.</summary>
    public Dictionary<string, int> StatementTimeoutMsByQuery { get; set; } = [];

    /// <summary>Rows returned at most; a result cut there says so (<see cref="QueryResult.Truncated"/>).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1_000_000)]
    public int MaxRows { get; set; } = 10_000;

    public int TimeoutFor(string queryId) => StatementTimeoutMsByQuery.GetValueOrDefault(queryId, StatementTimeoutMs);
}

public sealed record QueryResult(
    string QueryId,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<object?[]> Rows,
    int RowCount,
    bool Truncated,
    double ExecutionMs);

/// <summary>The query ran past its statement timeout and PostgreSQL cancelled it.</summary>
public sealed class QueryTimeoutException(string queryId, int timeoutMs, Exception inner)
    : Exception($"Query '{queryId}' was cancelled after its statement timeout of {timeoutMs} ms.", inner)
{
    public string QueryId { get; } = queryId;

    public int TimeoutMs { get; } = timeoutMs;
}

/// <summary>
/// Runs a registered query in a READ ONLY transaction with a server-side <c>statement_timeout</c> (SET LOCAL, so it
/// ends with the transaction and never leaks to the next user of the pooled connection). A timeout surfaces as
/// <see cref="QueryTimeoutException"/>; the connection goes back to the pool either way.
/// </summary>
public sealed class QueryExecutor(NpgsqlDataSource dataSource, IOptions<QueryExecutionOptions> options)
{
    private const string QueryCanceled = "57014";

    public async Task<QueryResult> ExecuteAsync(QueryDefinition query, BoundParameters parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        var settings = options.Value;
        var timeoutMs = settings.TimeoutFor(query.Id);
        var started = Stopwatch.GetTimestamp();

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await ReadOnlyTransaction.BeginAsync(connection, timeoutMs, cancellationToken);

        await using var command = new NpgsqlCommand(query.Sql, connection, transaction);
        command.Parameters.AddRange(CreateParameters(query, parameters));

        try
        {
            var rows = new List<object?[]>();
            var truncated = false;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var columns = Enumerable.Range(0, reader.FieldCount)
                .Select(i => new QueryColumn(reader.GetName(i), ColumnType(reader.GetDataTypeName(i))))
                .ToList();
            while (await reader.ReadAsync(cancellationToken))
            {
                if (rows.Count == settings.MaxRows)
                {
                    truncated = true;
                    break;
                }
                var row = new object?[reader.FieldCount];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = await reader.IsDBNullAsync(i, cancellationToken) ? null
                        : columns[i].Type == "date" ? reader.GetFieldValue<DateOnly>(i)
                        : reader.GetValue(i);
                }
                rows.Add(row);
            }
            await reader.DisposeAsync();
            await transaction.CommitAsync(cancellationToken);
            return new QueryResult(query.Id, columns, rows, rows.Count, truncated, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (PostgresException ex) when (ex.SqlState == QueryCanceled && !cancellationToken.IsCancellationRequested)
        {
            throw new QueryTimeoutException(query.Id, timeoutMs, ex);
        }
    }

    /// <summary>The command parameters for <paramref name="query"/> with <paramref name="parameters"/>; unset ones are SQL NULL.</summary>
    public static NpgsqlParameter[] CreateParameters(QueryDefinition query, BoundParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        return [.. query.Parameters.Select(parameter => new NpgsqlParameter(parameter.Name, DbType(parameter.Type))
        {
            Value = parameters.Values.GetValueOrDefault(parameter.Name) ?? DBNull.Value,
        })];
    }

    public static NpgsqlDbType DbType(QueryParameterType type) => type switch
    {
        QueryParameterType.Integer => NpgsqlDbType.Bigint,
        QueryParameterType.Decimal => NpgsqlDbType.Numeric,
        QueryParameterType.Date => NpgsqlDbType.Date,
        QueryParameterType.Boolean => NpgsqlDbType.Boolean,
        _ => NpgsqlDbType.Text,
    };

    /// <summary>The API's column type vocabulary for a PostgreSQL type name.</summary>
    public static string ColumnType(string dataTypeName) => dataTypeName switch
    {
        "smallint" or "integer" or "bigint" => "integer",
        "numeric" or "real" or "double precision" => "number",
        "date" => "date",
        "boolean" => "boolean",
        _ => "text",
    };
}
