using Npgsql;

namespace AspirePerf.TestSupport;

/// <summary>What a test reads from pg_locks to act at a known point: a session blocked on a table.</summary>
public static class PostgresLocks
{
    /// <summary>The server process of a session of this database waiting for a lock on <paramref name="table"/>, if one is.</summary>
    public static async Task<int?> BackendWaitingOnAsync(NpgsqlDataSource dataSource, string table)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand("""
            SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE NOT l.granted AND c.relname = $1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1
            """);
        command.Parameters.Add(new() { Value = table });
        return (int?)await command.ExecuteScalarAsync();
    }
}
