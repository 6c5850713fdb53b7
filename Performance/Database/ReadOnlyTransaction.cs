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
                setup.BatchCommands.Add(new NpgsqlBatchCommand(setting));
            }
            await setup.ExecuteNonQueryAsync(cancellationToken);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }
}
