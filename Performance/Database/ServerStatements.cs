using AspirePerf.Performance.Profiling;
using Npgsql;

namespace AspirePerf.Performance.Database;

public enum StatementOrder
{
    TotalTime,
    MeanTime,
    Calls,
}

public sealed record ServerStatement(
    long QueryId,
    string Query,
    string Fingerprint,
    long Calls,
    double TotalMs,
    double MeanMs,
    long Rows,
    long SharedBlocksHit,
    long SharedBlocksRead,
    double? BufferHitRatio);

/// <summary>Either the statements, or <see cref="Enabled"/> false with the reason and how to fix it.</summary>
public sealed record ServerStatementsReport(bool Enabled, string? Reason, IReadOnlyList<ServerStatement> Statements);

/// <summary>
/// The server-wide view from pg_stat_statements for the current database: top statements by total or mean execution
/// time or by calls, with rows and the shared-buffer hit ratio. Answers plainly when the extension is not installed
/// in the database or not preloaded by the server, instead of failing.
/// </summary>
public sealed class ServerStatements(NpgsqlDataSource dataSource)
{
    private const string ObjectNotInPrerequisiteState = "55000";

    public async Task<ServerStatementsReport> TopAsync(StatementOrder order, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var installed = new NpgsqlCommand("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'", connection))
        {
            if (await installed.ExecuteScalarAsync(cancellationToken) is null)
            {
                return new(false, "pg_stat_statements is not installed in this database: run CREATE EXTENSION pg_stat_statements " +
                    "(the worker does at start when the server has the module).", []);
            }
        }

        // The ORDER BY column comes from an enum, never from input.
        var orderBy = order switch
        {
            StatementOrder.MeanTime => "mean_exec_time",
            StatementOrder.Calls => "calls",
            _ => "total_exec_time",
        };
        var sql = $"""
            SELECT queryid, query, calls, total_exec_time, mean_exec_time, rows, shared_blks_hit, shared_blks_read
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL
            ORDER BY {orderBy} DESC
            LIMIT $1
            """;
        try
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = limit });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var statements = new List<ServerStatement>();
            while (await reader.ReadAsync(cancellationToken))
            {
                var query = reader.GetString(1);
                var hit = reader.GetInt64(6);
                var read = reader.GetInt64(7);
                statements.Add(new ServerStatement(
                    reader.GetInt64(0), query, SqlFingerprint.Of(query).Hash, reader.GetInt64(2),
                    Math.Round(reader.GetDouble(3), 3), Math.Round(reader.GetDouble(4), 3), reader.GetInt64(5), hit, read,
                    hit + read == 0 ? null : Math.Round((double)hit / (hit + read), 4)));
            }
            return new(true, null, statements);
        }
        catch (PostgresException ex) when (ex.SqlState == ObjectNotInPrerequisiteState)
        {
            return new(false, $"{ex.MessageText}: add pg_stat_statements to shared_preload_libraries and restart PostgreSQL.", []);
        }
    }
}
