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

    /// <summary>
    /// Rows a buffered answer may hold: a keyset page's largest <c>limit</c>, and the most an aggregate may return before
    /// its buffered answer is refused (<see cref="QueryResultTooLargeException"/>) in favour of the streamed form.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1_000_000)]
    public int MaxRows { get; set; } = 10_000;

    /// <summary>A keyset page's size when the caller gives no <c>limit</c>.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1_000_000)]
    public int DefaultPageSize { get; set; } = 1_000;

    /// <summary>
    /// The statement timeout of a streamed answer or export: its statement lasts as long as the client takes to read
    /// every row, so it gets far longer than a buffered one.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 86_400_000)]
    public int StreamStatementTimeoutMs { get; set; } = 600_000;

    /// <summary>
    /// The secret page cursors are signed with (at least 32 characters). Every API node and the worker need the same
    /// one; when unset each process makes its own, and cursors then only work on the node that issued them.
    /// </summary>
    public string? CursorSigningKey { get; set; }

    public int TimeoutFor(string queryId) => StatementTimeoutMsByQuery.GetValueOrDefault(queryId, StatementTimeoutMs);
}

/// <param name="NextAfter">For a keyset page with more rows after it: the last row's key, where the next page starts.</param>
public sealed record QueryResult(
    string QueryId,
    IReadOnlyList<QueryColumn> Columns,
    IReadOnlyList<object?[]> Rows,
    int RowCount,
    long? NextAfter,
    double ExecutionMs)
{
    /// <summary>
    /// The <c>max_parallel_workers_per_gather</c> the query ran under, when it was run with a
    /// <see cref="QueryParallelism"/>; null otherwise.
    /// </summary>
    public int? ParallelWorkersPerGather { get; init; }
}

/// <summary>
/// How much of the database server's CPU one query may take when it is one of several a scheduler runs at once. With
/// <paramref name="Cap"/> and more than one query running, the query's transaction gets
/// <c>max_parallel_workers_per_gather</c> = least(the server's setting, <paramref name="Budget"/> ÷ queries running − 1,
/// at least 0), so that queries running × (leader + workers per gather) stays within the budget. Transaction-local
/// (<c>set_config(…, true)</c>): it never changes the pooled session's default. A query running alone, or with
/// <paramref name="Cap"/> off, keeps the server's setting, which is then only read (for the report).
/// </summary>
/// <param name="QueriesRunning">Queries of the scheduler running now, this one included.</param>
/// <param name="Budget">Processes (leaders and parallel workers) the queries may use at once; null: the server's
/// <c>max_parallel_workers</c>.</param>
public sealed record QueryParallelism(int QueriesRunning, int? Budget, bool Cap = true)
{
    /// <summary>True when the query's intra-query parallelism is to be capped (not merely read).</summary>
    public bool Applies => Cap && QueriesRunning > 1;
}

/// <summary>One keyset page: rows after <paramref name="After"/> (from the start when null), at most <paramref name="Limit"/>.</summary>
public sealed record QueryPage(long? After, int Limit);

/// <summary>An aggregate returned more rows than a buffered answer may hold; its rows can still be streamed.</summary>
public sealed class QueryResultTooLargeException(string queryId, int maxRows)
    : Exception($"Query '{queryId}' returned more than {maxRows:N0} rows, the most a buffered answer holds (Queries:MaxRows).")
{
    public string QueryId { get; } = queryId;

    public int MaxRows { get; } = maxRows;
}

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

    /// <summary>A listing's first page of the default size; null for any other query (it has no pages).</summary>
    public QueryPage? FirstPage(QueryDefinition query) =>
        query?.Keyset is null ? null : new QueryPage(null, options.Value.DefaultPageSize);

    public Task<QueryResult> ExecuteAsync(QueryDefinition query, BoundParameters parameters, CancellationToken cancellationToken) =>
        ExecuteAsync(query, parameters, page: null, cancellationToken);

    /// <summary>
    /// The buffered answer. A keyset query answers one page (<paramref name="page"/>, or the first of the default size);
    /// any other query answers all its rows, or throws <see cref="QueryResultTooLargeException"/> past
    /// <see cref="QueryExecutionOptions.MaxRows"/>: nothing is cut off silently.
    /// </summary>
    public Task<QueryResult> ExecuteAsync(QueryDefinition query, BoundParameters parameters, QueryPage? page, CancellationToken cancellationToken) =>
        ExecuteAsync(query, parameters, page, parallelism: null, cancellationToken);

    /// <summary>
    /// The buffered answer run under <paramref name="parallelism"/> (see <see cref="QueryParallelism"/>); its rows do not
    /// depend on it, only how many parallel workers compute them.
    /// </summary>
    public async Task<QueryResult> ExecuteAsync(QueryDefinition query, BoundParameters parameters, QueryPage? page, QueryParallelism? parallelism,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        var settings = options.Value;
        var started = Stopwatch.GetTimestamp();
        page ??= FirstPage(query);
        var limit = page?.Limit ?? settings.MaxRows;

        var (opened, workers) = await OpenAsync(query, parameters, page, settings.TimeoutFor(query.Id), parallelism, cancellationToken);
        await using var rows = opened;
        var buffered = new List<object?[]>();
        var more = false;
        while (await rows.ReadAsync(cancellationToken))
        {
            if (buffered.Count == limit)
            {
                more = true;
                break;
            }
            buffered.Add(rows.CurrentValues());
        }
        await rows.CompleteAsync(cancellationToken);
        if (more && page is null)
        {
            throw new QueryResultTooLargeException(query.Id, settings.MaxRows);
        }
        long? nextAfter = more ? Convert.ToInt64(buffered[^1][rows.KeyOrdinal], CultureInfo.InvariantCulture) : null;
        return new QueryResult(query.Id, rows.Columns, buffered, buffered.Count, nextAfter, Stopwatch.GetElapsedTime(started).TotalMilliseconds)
        {
            ParallelWorkersPerGather = workers,
        };
    }

    /// <summary>
    /// Opens the query's rows for streaming from the server's cursor: the whole result (a keyset query's from
    /// <paramref name="after"/> on), read one row at a time, under <see cref="QueryExecutionOptions.StreamStatementTimeoutMs"/>.
    /// </summary>
    public Task<QueryRows> StreamAsync(QueryDefinition query, BoundParameters parameters, long? after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return StreamCoreAsync(query, parameters, after, cancellationToken);
    }

    private async Task<QueryRows> StreamCoreAsync(QueryDefinition query, BoundParameters parameters, long? after, CancellationToken cancellationToken) =>
        (await OpenAsync(query, parameters, query.Keyset is null ? null : new QueryPage(after, 0), options.Value.StreamStatementTimeoutMs, null, cancellationToken)).Rows;

    /// <summary>The planner's estimate of the query's rows (EXPLAIN, not run): a long export's progress denominator.</summary>
    public async Task<long?> EstimateRowsAsync(QueryDefinition query, BoundParameters parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = dataSource.CreateCommand("EXPLAIN (FORMAT JSON) " + query.Sql);
        command.Parameters.AddRange(CreateParameters(query, parameters));
        using var plan = System.Text.Json.JsonDocument.Parse((string)(await command.ExecuteScalarAsync(cancellationToken))!);
        return plan.RootElement[0].GetProperty("Plan").GetProperty("Plan Rows").TryGetInt64(out var rows) ? rows : null;
    }

    private async Task<(QueryRows Rows, int? ParallelWorkersPerGather)> OpenAsync(QueryDefinition query, BoundParameters parameters, QueryPage? page,
        int timeoutMs, QueryParallelism? parallelism, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        NpgsqlTransaction? transaction = null;
        NpgsqlCommand? command = null;
        try
        {
            NpgsqlBatchCommand[] settings = query.Jit is { } jit ? [new($"SELECT set_config('jit', '{(jit ? "on" : "off")}', true)")] : [];
            (transaction, var probe) = await ReadOnlyTransaction.BeginAsync(connection, timeoutMs, settings,
                parallelism is null ? null : ParallelismProbe(parallelism), cancellationToken);
            int? workers = probe is null ? null : int.Parse((string)probe, CultureInfo.InvariantCulture);
            // A page reads one row past its limit to learn whether another page follows; a stream reads everything.
            var paged = page is { Limit: > 0 } && query.Keyset is not null;
            command = new NpgsqlCommand(paged ? query.PagedSql : query.Sql, connection, transaction);
            command.Parameters.AddRange(CreateParameters(query, parameters, page?.After));
            if (paged)
            {
                command.Parameters.Add(new NpgsqlParameter(QueryKeyset.LimitParameter, NpgsqlDbType.Integer) { Value = page!.Limit + 1 });
            }
            var reader = await Translate(query.Id, timeoutMs, () => command.ExecuteReaderAsync(cancellationToken), cancellationToken);
            return (new QueryRows(query, timeoutMs, connection, transaction, command, reader), workers);
        }
        catch
        {
            if (command is not null)
            {
                await command.DisposeAsync();
            }
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Caps <c>max_parallel_workers_per_gather</c> for this transaction only (never raising it), or just reads it when
    /// the cap does not apply; computed on the server, so the budget's default is the server's own <c>max_parallel_workers</c>.
    /// </summary>
    private static NpgsqlBatchCommand ParallelismProbe(QueryParallelism parallelism)
    {
        if (!parallelism.Applies)
        {
            return new NpgsqlBatchCommand($"SELECT current_setting('max_parallel_workers_per_gather') AS {ReadOnlyTransaction.ProbeColumn}");
        }
        var command = new NpgsqlBatchCommand($"""
            SELECT set_config('max_parallel_workers_per_gather',
                   least(current_setting('max_parallel_workers_per_gather')::int,
                         greatest(0, coalesce($1, current_setting('max_parallel_workers')::int) / $2 - 1))::text,
                   true) AS {ReadOnlyTransaction.ProbeColumn}
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = parallelism.Budget is { } budget ? budget : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = parallelism.QueriesRunning, NpgsqlDbType = NpgsqlDbType.Integer });
        return command;
    }

    internal static async Task<T> Translate<T>(string queryId, int timeoutMs, Func<Task<T>> operation, CancellationToken cancellationToken)
    {
        try
        {
            return await operation();
        }
        catch (PostgresException ex) when (ex.SqlState == QueryCanceled && !cancellationToken.IsCancellationRequested)
        {
            throw new QueryTimeoutException(queryId, timeoutMs, ex);
        }
    }

    /// <summary>The command parameters for <paramref name="query"/> with <paramref name="parameters"/>; unset ones are SQL NULL.</summary>
    /// <remarks>A keyset query also gets its key parameter: <paramref name="after"/>, or NULL for the first page.</remarks>
    public static NpgsqlParameter[] CreateParameters(QueryDefinition query, BoundParameters parameters, long? after = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(parameters);
        var values = query.Parameters.Select(parameter => new NpgsqlParameter(parameter.Name, DbType(parameter.Type))
        {
            Value = parameters.Values.GetValueOrDefault(parameter.Name) ?? DBNull.Value,
        });
        return query.Keyset is { } keyset
            ? [.. values, new NpgsqlParameter(keyset.Parameter, NpgsqlDbType.Bigint) { Value = after is { } key ? key : DBNull.Value }]
            : [.. values];
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
    public static string ColumnType(string dataTypeName) => QueryRows.BaseTypeName(dataTypeName) switch
    {
        "smallint" or "integer" or "bigint" => "integer",
        "numeric" or "real" or "double precision" => "number",
        "date" => "date",
        "boolean" => "boolean",
        _ => "text",
    };
}
