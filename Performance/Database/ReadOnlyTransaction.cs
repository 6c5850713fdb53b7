using System.Globalization;
using Npgsql;

namespace AspirePerf.Performance.Database;

/// <summary>
/// A READ ONLY transaction with a server-side statement timeout, set up in one round trip. The timeout is
/// <c>SET LOCAL</c> (set_config with is_local), so it ends with the transaction and never leaks to the next user of
/// the pooled connection.
/// </summary>
public static class ReadOnlyTransaction
{
    /// <param name="localSettings">Further constant <c>SET LOCAL</c> statements for this transaction only.</param>
    public static async Task<NpgsqlTransaction> BeginAsync(NpgsqlConnection connection, int timeoutMs, CancellationToken cancellationToken,
        params string[] localSettings)
    {
        ArgumentNullException.ThrowIfNull(localSettings);
        return (await BeginAsync(connection, timeoutMs, [.. localSettings.Select(s => new NpgsqlBatchCommand(s))], probe: null, cancellationToken)).Transaction;
    }

    /// <summary>
    /// The same transaction, and <paramref name="probe"/> (a statement selecting one value in a column named
    /// <see cref="ProbeColumn"/>, e.g. a transaction-local <c>set_config</c>) run last in the same round trip.
    /// </summary>
    /// <returns>The transaction and the probe's value.</returns>
    public static async Task<(NpgsqlTransaction Transaction, object? Probe)> BeginAsync(NpgsqlConnection connection, int timeoutMs,
        IReadOnlyList<NpgsqlBatchCommand> localSettings, NpgsqlBatchCommand? probe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(localSettings);
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await using var setup = new NpgsqlBatch(connection, transaction);
            setup.BatchCommands.Add(new NpgsqlBatchCommand("SET TRANSACTION READ ONLY"));
            var timeout = new NpgsqlBatchCommand("SELECT set_config('statement_timeout', $1, true)");
            timeout.Parameters.Add(new NpgsqlParameter { Value = timeoutMs.ToString(CultureInfo.InvariantCulture) });
            setup.BatchCommands.Add(timeout);
            foreach (var setting in localSettings)
            {
                setup.BatchCommands.Add(setting);
            }
            if (probe is null)
            {
                await setup.ExecuteNonQueryAsync(cancellationToken);
                return (transaction, null);
            }
            setup.BatchCommands.Add(probe);
            object? value = null;
            await using (var reader = await setup.ExecuteReaderAsync(cancellationToken))
            {
                do
                {
                    if (reader.FieldCount == 1 && reader.GetName(0) == ProbeColumn && await reader.ReadAsync(cancellationToken))
                    {
                        value = reader.GetValue(0);
                    }
                }
                while (await reader.NextResultAsync(cancellationToken));
            }
            return (transaction, value);
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    /// <summary>The column name a probe's value is read from.</summary>
    public const string ProbeColumn = "probe";
}
