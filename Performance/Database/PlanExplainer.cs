using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Npgsql;

namespace AspirePerf.Performance.Database;

/// <summary>How a plan was obtained: with a sample's real parameter values, or PostgreSQL's generic plan.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PlanSource>))]
public enum PlanSource
{
    SampleParameters,
    GenericPlan,
}

/// <summary>An <c>EXPLAIN (FORMAT JSON)</c> result: the JSON as PostgreSQL wrote it and the root node's total cost.</summary>
public sealed record QueryPlan(string Json, double TotalCost, PlanSource Source)
{
    public JsonElement Root => JsonDocument.Parse(Json).RootElement[0].GetProperty("Plan");
}

/// <summary>
/// Plans and re-runs statements for the profiler and the index advisor, always off the request path. Only reads are
/// planned or run, never with ANALYZE on anything but a read, each inside a READ ONLY transaction with a local
/// statement timeout. A statement with <c>$n</c> placeholders and no sample is planned generically: PREPARE, then
/// EXPLAIN EXECUTE with NULLs under <c>plan_cache_mode = force_generic_plan</c> (PostgreSQL 15 has no
/// <c>EXPLAIN (GENERIC_PLAN)</c>; the values do not matter to a generic plan).
/// </summary>
public static partial class PlanExplainer
{
    private const string PreparedName = "aspireperf_explain";

    /// <summary>True for a plain read: starts with SELECT, WITH, VALUES or TABLE, and modifies nothing.</summary>
    public static bool IsRead(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var normalized = Profiling.SqlFingerprint.Normalize(sql);
        return ReadStart().IsMatch(normalized) && !Modifying().IsMatch(normalized) && !normalized.Contains(';', StringComparison.Ordinal);
    }

    public static async Task<QueryPlan> ExplainAsync(NpgsqlConnection connection, string sql, StatementSample? sample, int timeoutMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (!IsRead(sql))
        {
            throw new InvalidOperationException("Only single read statements are planned.");
        }
        if (sample is not null)
        {
            return await InReadOnlyTransactionAsync(connection, timeoutMs, genericPlan: false, async transaction =>
            {
                await using var explain = new NpgsqlCommand("EXPLAIN (FORMAT JSON) " + sample.Sql, connection, transaction);
                explain.Parameters.AddRange(sample.CreateParameters());
                return Parse((string)(await explain.ExecuteScalarAsync(cancellationToken))!, PlanSource.SampleParameters);
            }, cancellationToken);
        }

        var placeholders = Placeholder().Matches(sql).Select(m => int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
        if (placeholders == 0)
        {
            return await InReadOnlyTransactionAsync(connection, timeoutMs, genericPlan: false, async transaction =>
            {
                await using var explain = new NpgsqlCommand("EXPLAIN (FORMAT JSON) " + sql, connection, transaction);
                return Parse((string)(await explain.ExecuteScalarAsync(cancellationToken))!, PlanSource.GenericPlan);
            }, cancellationToken);
        }

        // PREPARE is not transactional: deallocate whatever happens.
        await using (var prepare = new NpgsqlCommand($"PREPARE {PreparedName} AS {sql}", connection))
        {
            await prepare.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            var nulls = string.Join(", ", Enumerable.Repeat("NULL", placeholders));
            return await InReadOnlyTransactionAsync(connection, timeoutMs, genericPlan: true, async transaction =>
            {
                await using var explain = new NpgsqlCommand($"EXPLAIN (FORMAT JSON) EXECUTE {PreparedName}({nulls})", connection, transaction);
                return Parse((string)(await explain.ExecuteScalarAsync(cancellationToken))!, PlanSource.GenericPlan);
            }, cancellationToken);
        }
        finally
        {
            await using var deallocate = new NpgsqlCommand($"DEALLOCATE {PreparedName}", connection);
            await deallocate.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>Runs a sample to the last row and returns the elapsed milliseconds.</summary>
    public static async Task<double> RunAsync(NpgsqlConnection connection, StatementSample sample, int timeoutMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (!IsRead(sample.Sql))
        {
            throw new InvalidOperationException("Only single read statements are re-run.");
        }
        return await InReadOnlyTransactionAsync(connection, timeoutMs, genericPlan: false, async transaction =>
        {
            var started = Stopwatch.GetTimestamp();
            await using var command = new NpgsqlCommand(sample.Sql, connection, transaction);
            command.Parameters.AddRange(sample.CreateParameters());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
            }
            return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }, cancellationToken);
    }

    private static async Task<T> InReadOnlyTransactionAsync<T>(NpgsqlConnection connection, int timeoutMs, bool genericPlan,
        Func<NpgsqlTransaction, Task<T>> action, CancellationToken cancellationToken)
    {
        await using var transaction = genericPlan
            ? await ReadOnlyTransaction.BeginAsync(connection, timeoutMs, cancellationToken, "SET LOCAL plan_cache_mode = force_generic_plan")
            : await ReadOnlyTransaction.BeginAsync(connection, timeoutMs, cancellationToken);
        var result = await action(transaction);
        await transaction.RollbackAsync(cancellationToken);
        return result;
    }

    private static QueryPlan Parse(string json, PlanSource source)
    {
        using var document = JsonDocument.Parse(json);
        var cost = document.RootElement[0].GetProperty("Plan").GetProperty("Total Cost").GetDouble();
        return new QueryPlan(json, cost, source);
    }

    [GeneratedRegex(@"^(select|with|values|table)\b")]
    private static partial Regex ReadStart();

    [GeneratedRegex(@"\b(insert|update|delete|merge|into|for update|for share|for no key update|for key share)\b")]
    private static partial Regex Modifying();

    [GeneratedRegex(@"\$(\d+)")]
    private static partial Regex Placeholder();
}
