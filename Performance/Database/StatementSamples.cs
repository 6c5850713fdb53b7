using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Profiling;
using Npgsql;

namespace AspirePerf.Performance.Database;

/// <summary>
/// A runnable instance of a statement: its SQL and representative parameter values. With one, the performance layer
/// plans a statement as the server really runs it (a custom plan) and can re-measure it; without one it falls back to
/// PostgreSQL's generic plan and cannot re-run the statement.
/// </summary>
public sealed record StatementSample(string Name, string Sql, Func<NpgsqlParameter[]> CreateParameters);

/// <summary>Finds a sample for a statement by its <see cref="SqlFingerprint"/> hash.</summary>
public interface IStatementSamples
{
    StatementSample? Find(string fingerprint);
}

/// <summary>
/// Samples for the registered queries: each query's SQL with its parameters' defaults (or examples, for required
/// ones). Npgsql sends <c>@name</c> as <c>$n</c>, and the fingerprint folds both to the same shape, so a command seen
/// by the profiler or a pg_stat_statements entry finds its registered query.
/// </summary>
public sealed class RegistryStatementSamples : IStatementSamples
{
    private readonly Dictionary<string, StatementSample> _byFingerprint = new(StringComparer.Ordinal);

    public RegistryStatementSamples(QueryRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        foreach (var query in registry.All)
        {
            if (query.Parameters.Any(p => p.Required && (p.Default ?? p.Example) is null))
            {
                continue;
            }
            var values = new BoundParameters(query.Parameters.ToDictionary(p => p.Name, p => p.Default ?? p.Example, StringComparer.Ordinal));
            if (query.Keyset is null)
            {
                _byFingerprint.TryAdd(SqlFingerprint.Of(query.Sql).Hash,
                    new StatementSample(query.Id, query.Sql, () => QueryExecutor.CreateParameters(query, values)));
            }
            else
            {
                // A listing's buffered statement is its first page (the default size). Its unlimited form, which streams
                // every row, gets no sample: replaying it to measure an index would read the whole table each time.
                _byFingerprint.TryAdd(SqlFingerprint.Of(query.PagedSql).Hash, new StatementSample(query.Id, query.PagedSql, () =>
                    [.. QueryExecutor.CreateParameters(query, values),
                        new NpgsqlParameter(QueryKeyset.LimitParameter, NpgsqlTypes.NpgsqlDbType.Integer) { Value = DefaultPageRows }]));
            }
        }
    }

    private const int DefaultPageRows = 1_001;

    public StatementSample? Find(string fingerprint) => _byFingerprint.GetValueOrDefault(fingerprint);
}
