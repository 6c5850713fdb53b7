using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace AspirePerf.Performance.Auditing;

/// <summary>One write or operator action: who, from where, what with which parameters, how it ended, when.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string? Client, string Action, JsonElement Parameters, int Status, string? TraceId);

/// <summary>
/// The audit trail in PostgreSQL (<c>audit.entries</c>): appended to after each audited action, listed newest first
/// in keyset pages. Parameters larger than <see cref="MaxParameterBytes"/> are replaced by their size, so a client
/// cannot grow the trail faster than its request limit allows.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const int MaxParameterBytes = 8 * 1024;

    public async Task RecordAsync(string actor, string? client, string action, JsonElement parameters, int status, string? traceId, CancellationToken cancellationToken)
    {
        var json = parameters.GetRawText();
        if (json.Length > MaxParameterBytes)
        {
            json = JsonSerializer.Serialize(new { truncated = true, bytes = json.Length });
        }
        await using var command = dataSource.CreateCommand(
            "INSERT INTO audit.entries (at, actor, client, action, parameters, status, trace_id) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = actor });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)client ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = action });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = json, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = status });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)traceId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Newest first; <paramref name="before"/> (an entry id) continues from the previous page's last entry.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ListAsync(int limit, long? before, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, at, actor, client, action, parameters::text, status, trace_id
            FROM audit.entries WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var entries = new List<AuditEntry>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var parameters = JsonDocument.Parse(reader.GetString(5));
            entries.Add(new AuditEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), parameters.RootElement.Clone(), reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return entries;
    }
}
