using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspirePerf.Performance.Profiling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspirePerf.Performance.Database;

public sealed class IndexAdvisorOptions
{
    public const string SectionName = "IndexAdvisor";

    /// <summary>An index is recommended for a statement when it lowers the planned cost by at least this share (dexter's rule).</summary>
    [Range(0.01, 0.99)]
    public double MinCostReduction { get; set; } = 0.5;

    /// <summary>Statements taken from pg_stat_statements, by total time.</summary>
    [Range(1, 500)]
    public int MaxStatements { get; set; } = 25;

    /// <summary>Statements faster than this on average are not worth an index.</summary>
    [Range(0, 3_600_000)]
    public double MinMeanMs { get; set; } = 5;

    [Range(100, 600_000)]
    public int ExplainTimeoutMs { get; set; } = 10_000;

    /// <summary>Timed runs per statement before and after an index is applied (the median is reported), after one warm-up run.</summary>
    [Range(1, 50)]
    public int MeasureRuns { get; set; } = 3;

    [Range(1_000, 3_600_000)]
    public int MeasureTimeoutMs { get; set; } = 120_000;

    /// <summary>An applied index is dropped again unless the statements it serves run at least this much faster, as measured.</summary>
    [Range(0, 0.99)]
    public double MinMeasuredGain { get; set; } = 0.1;
}

/// <summary>A statement an index would serve: planned cost before and after (null when unverified), and its workload.</summary>
public sealed record AdvisedStatement(string Fingerprint, string Query, string? Sample, long Calls, double MeanMs, double CostBefore, double? CostAfter, double? Improvement);

public sealed record IndexAdvice(
    string Name,
    string Schema,
    string Table,
    IReadOnlyList<string> Columns,
    string CreateStatement,
    bool Verified,
    double? Improvement,
    long? EstimatedSizeBytes,
    double WorkloadMs,
    double? WorkloadMsSaved,
    IReadOnlyList<AdvisedStatement> Statements);

/// <summary>
/// What the advisor concluded for one statement of the workload, recommended or not, and why; with the best candidate
/// it evaluated and that candidate's planned improvement, so a declined index can be checked by building it.
/// </summary>
public sealed record StatementVerdict(string Fingerprint, string Query, string? Sample, long Calls, double MeanMs, string Outcome, string Detail,
    string? BestCandidate = null, double? BestImprovement = null);

public sealed record IndexAdviceReport(
    DateTimeOffset At,
    bool HypopgAvailable,
    bool QualstatsAvailable,
    bool StatementStatisticsAvailable,
    IReadOnlyList<string> Notes,
    IReadOnlyList<IndexAdvice> Advice,
    IReadOnlyList<StatementVerdict> Statements);

public sealed record MeasuredStatement(string Fingerprint, string Query, string? Sample, double? BeforeMs, double? AfterMs, double? Speedup, string? Note);

/// <summary>An apply: the build, whether the index was kept after measuring, and why; per statement before and after.</summary>
public sealed record IndexApplyResult(string Name, string CreateStatement, double BuildMs, bool Kept, string Verdict, IReadOnlyList<MeasuredStatement> Statements);

/// <summary>
/// Index advice that proves itself. The workload is the top of pg_stat_statements plus the slow-query log; each read
/// is planned (with a registered sample's values when there is one, else generically); candidate columns come from
/// the plan (sequential scans' filters and the join conditions on them) and from pg_qualstats when present; each
/// single- and two-column candidate is planned again with a hypopg hypothetical index, and the best one is
/// recommended when it lowers the cost by <see cref="IndexAdvisorOptions.MinCostReduction"/>. Advice is ranked by
/// workload time saved (calls × mean × improvement). Without hypopg the filter columns are still advised, unverified.
/// Applying builds the index CONCURRENTLY and re-runs the statements it serves before and after.
/// Written by hand: dexter and pg_qualstats_index_advisor are the anchors, but neither is a .NET library.
/// </summary>
public sealed partial class IndexAdvisor(
    NpgsqlDataSource dataSource,
    ServerStatements serverStatements,
    SlowQueryLog slowQueries,
    IOptionsMonitor<IndexAdvisorOptions> options,
    TimeProvider time,
    ILogger<IndexAdvisor> logger,
    IStatementSamples? samples = null) : IDisposable
{
    private const int MaxColumnsPerTable = 6;
    private readonly SemaphoreSlim _applying = new(1, 1);
    private volatile IndexAdviceReport? _latest;

    public async Task<IndexAdviceReport> AdviseAsync(CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var extensions = await InstalledExtensionsAsync(connection, cancellationToken);
        var hypopg = extensions.Contains("hypopg");
        var qualstats = extensions.Contains("pg_qualstats");
        var notes = new List<string>();
        if (!hypopg)
        {
            notes.Add("hypopg is not installed in this database (CREATE EXTENSION hypopg): advice is unverified, from plans' filter columns only.");
        }
        if (!qualstats)
        {
            notes.Add("pg_qualstats is not installed in this database: candidates come from plans only.");
        }

        var report = await serverStatements.TopAsync(StatementOrder.TotalTime, settings.MaxStatements, cancellationToken);
        if (!report.Enabled)
        {
            notes.Add($"pg_stat_statements: {report.Reason} The workload is the slow-query log only.");
        }
        var workload = Workload(report, settings);
        var qualifiers = qualstats ? await QualstatsColumnsAsync(connection, [.. workload.SelectMany(w => w.QueryIds)], cancellationToken) : [];
        var catalog = new Catalog(connection);
        var verdicts = new List<StatementVerdict>();
        var found = new Dictionary<CandidateKey, List<(WorkloadStatement Statement, AdvisedStatement Advised)>>();
        var sizes = new Dictionary<CandidateKey, long?>();
        try
        {
            foreach (var statement in workload)
            {
                var sample = samples?.Find(statement.Fingerprint);
                QueryPlan before;
                try
                {
                    before = await PlanExplainer.ExplainAsync(connection, sample?.Sql ?? statement.Sql, sample, settings.ExplainTimeoutMs, cancellationToken);
                }
                catch (PostgresException ex)
                {
                    verdicts.Add(statement.Verdict(sample, "not-plannable", ex.MessageText));
                    continue;
                }

                var candidates = await CandidatesAsync(catalog, before, statement.QueryIds.SelectMany(id => qualifiers.GetValueOrDefault(id, [])), !hypopg, cancellationToken);
                if (candidates.Count == 0)
                {
                    verdicts.Add(statement.Verdict(sample, "no-candidate", "The plan has no sequential scan with a filter or join condition on an unindexed column."));
                    continue;
                }
                if (!hypopg)
                {
                    foreach (var candidate in candidates)
                    {
                        Add(found, candidate, statement, new AdvisedStatement(statement.Fingerprint, statement.Query, sample?.Name, statement.Calls, statement.MeanMs, before.TotalCost, null, null));
                    }
                    verdicts.Add(statement.Verdict(sample, "unverified", $"Filter columns {string.Join(", ", candidates.Select(c => c.Display))}; hypopg would verify them."));
                    continue;
                }

                (CandidateKey Key, double Cost)? best = null;
                foreach (var candidate in candidates)
                {
                    double cost;
                    try
                    {
                        (cost, sizes[candidate]) = await HypotheticalCostAsync(connection, candidate, sample?.Sql ?? statement.Sql, sample, settings.ExplainTimeoutMs, cancellationToken);
                    }
                    catch (PostgresException ex)
                    {
                        LogCandidateFailed(candidate.Display, ex.MessageText);
                        continue;
                    }
                    // Prefer the narrower index unless the wider one is clearly better.
                    if (best is null || cost < best.Value.Cost * (candidate.Columns.Count > best.Value.Key.Columns.Count ? 0.98 : 1.0))
                    {
                        best = (candidate, cost);
                    }
                }
                if (best is not { } evaluated)
                {
                    verdicts.Add(statement.Verdict(sample, "not-plannable", "No candidate index could be planned."));
                    continue;
                }
                var (bestKey, bestCost) = evaluated;
                var improvement = before.TotalCost <= 0 ? 0 : 1 - (bestCost / before.TotalCost);
                if (improvement >= settings.MinCostReduction)
                {
                    Add(found, bestKey, statement, new AdvisedStatement(statement.Fingerprint, statement.Query, sample?.Name, statement.Calls, statement.MeanMs,
                        Math.Round(before.TotalCost, 2), Math.Round(bestCost, 2), Math.Round(improvement, 4)));
                    verdicts.Add(statement.Verdict(sample, "recommended", $"{bestKey.Display} lowers the planned cost by {improvement:P0} ({before.TotalCost:0} → {bestCost:0}).") with
                    {
                        BestCandidate = bestKey.CreateStatement,
                        BestImprovement = Math.Round(improvement, 4),
                    });
                }
                else
                {
                    verdicts.Add(statement.Verdict(sample, "no-gain", $"The best of {candidates.Count} candidates, {bestKey.Display}, lowers the planned cost by only {Math.Max(0, improvement):P0} " +
                        $"(needed {settings.MinCostReduction:P0}): the statement reads too large a share of the table for an index to pay.") with
                    {
                        BestCandidate = bestKey.CreateStatement,
                        BestImprovement = Math.Round(improvement, 4),
                    });
                }
            }
        }
        finally
        {
            if (hypopg)
            {
                await using var reset = new NpgsqlCommand("SELECT hypopg_reset()", connection);
                await reset.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }

        var ranked = new List<IndexAdvice>();
        foreach (var (key, statements) in found)
        {
            var workloadMs = statements.Sum(s => s.Statement.Calls * s.Statement.MeanMs);
            double? saved = hypopg ? statements.Sum(s => s.Statement.Calls * s.Statement.MeanMs * (s.Advised.Improvement ?? 0)) : null;
            ranked.Add(new IndexAdvice(key.Name, key.Schema, key.Table, key.Columns, key.CreateStatement, hypopg,
                saved is { } total && workloadMs > 0 ? Math.Round(total / workloadMs, 4) : null,
                sizes.GetValueOrDefault(key) ?? await EstimateSizeAsync(connection, key, cancellationToken),
                Math.Round(workloadMs, 3), saved is null ? null : Math.Round(saved.Value, 3), [.. statements.Select(s => s.Advised)]));
        }
        var result = new IndexAdviceReport(time.GetUtcNow(), hypopg, qualstats, report.Enabled, notes,
            [.. ranked.OrderByDescending(a => a.WorkloadMsSaved ?? a.WorkloadMs).ThenBy(a => a.Name, StringComparer.Ordinal)], verdicts);
        _latest = result;
        return result;
    }

    /// <summary>
    /// Builds one advised index concurrently and re-measures the statements it serves (median of
    /// <see cref="IndexAdvisorOptions.MeasureRuns"/> runs before and after). Null when no current advice has that name.
    /// </summary>
    public async Task<IndexApplyResult?> ApplyAsync(string name, CancellationToken cancellationToken)
    {
        var advice = (_latest ?? await AdviseAsync(cancellationToken)).Advice.FirstOrDefault(a => a.Name == name);
        if (advice is null)
        {
            return null;
        }
        await _applying.WaitAsync(cancellationToken);
        try
        {
            var settings = options.CurrentValue;
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var before = await MeasureAsync(connection, advice, settings, cancellationToken);
            LogBuilding(advice.CreateStatement);
            var started = time.GetTimestamp();
            await using (var create = new NpgsqlCommand(advice.CreateStatement, connection) { CommandTimeout = 0 })
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
            var buildMs = time.GetElapsedTime(started).TotalMilliseconds;
            await EnsureValidAsync(connection, advice, cancellationToken);
            LogBuilt(advice.Name, buildMs);
            var after = await MeasureAsync(connection, advice, settings, cancellationToken);
            _latest = null;
            var (keep, verdict) = Judge([.. advice.Statements.Select((s, i) => (s.Calls, before[i], after[i]))], settings.MinMeasuredGain);
            if (!keep)
            {
                // The planner's estimate was wrong for this workload: an index that does not pay costs every write.
                await using var drop = new NpgsqlCommand($"DROP INDEX CONCURRENTLY IF EXISTS {Quote(advice.Schema)}.{Quote(advice.Name)}", connection) { CommandTimeout = 0 };
                await drop.ExecuteNonQueryAsync(cancellationToken);
                LogRolledBack(advice.Name, verdict);
            }
            return new IndexApplyResult(advice.Name, advice.CreateStatement, Math.Round(buildMs, 1), keep, verdict, [.. advice.Statements.Select((s, i) =>
            {
                var b = before[i];
                var a = after[i];
                return new MeasuredStatement(s.Fingerprint, s.Query, s.Sample, b, a, b is > 0 && a is > 0 ? Math.Round(b.Value / a.Value, 2) : null,
                    s.Sample is null ? "No sample with parameter values is registered for this statement, so it was not re-run." : null);
            })]);
        }
        finally
        {
            _applying.Release();
        }
    }

    /// <summary>
    /// Whether a built index stays: the statements it serves, weighted by their calls, must run at least
    /// <paramref name="minGain"/> faster as measured, or it is dropped again. Unmeasured statements (no sample) cannot
    /// vote; with none measured the index stays, said to be unverified.
    /// </summary>
    public static (bool Keep, string Verdict) Judge(IReadOnlyList<(long Calls, double? BeforeMs, double? AfterMs)> statements, double minGain)
    {
        ArgumentNullException.ThrowIfNull(statements);
        var measured = statements.Where(s => s.BeforeMs > 0 && s.AfterMs > 0).ToList();
        if (measured.Count == 0)
        {
            return (true, "Kept without a measurement: no statement it serves has a registered sample to re-run.");
        }
        var before = measured.Sum(s => Math.Max(1, s.Calls) * s.BeforeMs!.Value);
        var after = measured.Sum(s => Math.Max(1, s.Calls) * s.AfterMs!.Value);
        var gain = 1 - (after / before);
        return gain >= minGain
            ? (true, $"Kept: the statements it serves run {before / after:0.##}× as fast, measured ({gain:P0} less time).")
            : (false, after > before
                ? $"Rolled back: the statements it serves got slower ({before / after:0.##}×), though the planner expected them faster."
                : $"Rolled back: a measured gain of {gain:P0} is under the {minGain:P0} an index must earn.");
    }

    public void Dispose() => _applying.Dispose();

    private async Task<double?[]> MeasureAsync(NpgsqlConnection connection, IndexAdvice advice, IndexAdvisorOptions settings, CancellationToken cancellationToken)
    {
        var result = new double?[advice.Statements.Count];
        for (var i = 0; i < result.Length; i++)
        {
            if (samples?.Find(advice.Statements[i].Fingerprint) is not { } sample)
            {
                continue;
            }
            await PlanExplainer.RunAsync(connection, sample, settings.MeasureTimeoutMs, cancellationToken);
            var runs = new List<double>();
            for (var run = 0; run < settings.MeasureRuns; run++)
            {
                runs.Add(await PlanExplainer.RunAsync(connection, sample, settings.MeasureTimeoutMs, cancellationToken));
            }
            runs.Sort();
            result[i] = Math.Round(runs[runs.Count / 2], 3);
        }
        return result;
    }

    private static async Task EnsureValidAsync(NpgsqlConnection connection, IndexAdvice advice, CancellationToken cancellationToken)
    {
        await using var check = new NpgsqlCommand("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)", connection);
        check.Parameters.Add(new NpgsqlParameter { Value = $"{Quote(advice.Schema)}.{Quote(advice.Name)}" });
        if (await check.ExecuteScalarAsync(cancellationToken) is not true)
        {
            // A failed concurrent build leaves an invalid index behind that still costs writes: remove it.
            await using var drop = new NpgsqlCommand($"DROP INDEX CONCURRENTLY IF EXISTS {Quote(advice.Schema)}.{Quote(advice.Name)}", connection);
            await drop.ExecuteNonQueryAsync(cancellationToken);
            throw new InvalidOperationException($"The concurrent build of {advice.Name} did not produce a valid index; it was dropped.");
        }
    }

    private List<WorkloadStatement> Workload(ServerStatementsReport report, IndexAdvisorOptions settings)
    {
        var statements = new Dictionary<string, WorkloadStatement>(StringComparer.Ordinal);
        foreach (var s in report.Statements.Where(s => PlanExplainer.IsRead(s.Query)))
        {
            statements[s.Fingerprint] = statements.TryGetValue(s.Fingerprint, out var known)
                ? known with
                {
                    Calls = known.Calls + s.Calls,
                    MeanMs = ((known.MeanMs * known.Calls) + (s.MeanMs * s.Calls)) / Math.Max(1, known.Calls + s.Calls),
                    QueryIds = [.. known.QueryIds, s.QueryId],
                }
                : new WorkloadStatement(s.Fingerprint, SqlFingerprint.Normalize(s.Query), s.Query, s.Calls, s.MeanMs, [s.QueryId]);
        }
        foreach (var (slow, sql) in slowQueries.Workload().Where(w => PlanExplainer.IsRead(w.Sql)))
        {
            statements.TryAdd(slow.Fingerprint, new WorkloadStatement(slow.Fingerprint, slow.Query, sql, slow.Count, slow.MeanMs, []));
        }
        return [.. statements.Values.Where(s => s.MeanMs >= settings.MinMeanMs).OrderByDescending(s => s.Calls * s.MeanMs)];
    }

    private static async Task<HashSet<string>> InstalledExtensionsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT extname FROM pg_extension", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(0));
        }
        return names;
    }

    /// <summary>Columns pg_qualstats saw filtered, per pg_stat_statements query id: (table oid, column, is equality).</summary>
    private static async Task<Dictionary<long, List<(uint Table, string Column, bool Equality)>>> QualstatsColumnsAsync(
        NpgsqlConnection connection, long[] queryIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<long, List<(uint, string, bool)>>();
        if (queryIds.Length == 0)
        {
            return result;
        }
        await using var command = new NpgsqlCommand("""
            SELECT DISTINCT q.queryid, q.lrelid, a.attname, o.oprname = '='
            FROM pg_qualstats() q
            JOIN pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = q.lattnum
            JOIN pg_operator o ON o.oid = q.opno
            WHERE q.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND q.queryid = ANY($1)
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = queryIds });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetInt64(0);
            if (!result.TryGetValue(id, out var columns))
            {
                result[id] = columns = [];
            }
            columns.Add((reader.GetFieldValue<uint>(1), reader.GetString(2), reader.GetBoolean(3)));
        }
        return result;
    }

    private static async Task<List<CandidateKey>> CandidatesAsync(Catalog catalog, QueryPlan plan,
        IEnumerable<(uint Table, string Column, bool Equality)> qualified, bool filterColumnsOnly, CancellationToken cancellationToken)
    {
        var scans = new List<(string Relation, string Alias, string? Filter)>();
        var conditions = new List<string>();
        Walk(plan.Root, scans, conditions);

        // Per table: its columns that filters or join conditions use, equality first (they lead a multi-column index).
        var columnsByTable = new Dictionary<uint, (Catalog.Table Table, List<(string Column, bool Equality)> Columns)>();
        void Use(Catalog.Table table, string column, bool equality)
        {
            if (!table.Columns.Contains(column))
            {
                return;
            }
            if (!columnsByTable.TryGetValue(table.Oid, out var entry))
            {
                columnsByTable[table.Oid] = entry = (table, []);
            }
            var index = entry.Columns.FindIndex(c => c.Column == column);
            if (index < 0)
            {
                entry.Columns.Add((column, equality));
            }
            else if (equality)
            {
                entry.Columns[index] = (column, true);
            }
        }

        foreach (var (relation, alias, filter) in scans)
        {
            if (await catalog.FindAsync(relation, cancellationToken) is not { } table)
            {
                continue;
            }
            foreach (var column in Identifiers(filter))
            {
                Use(table, column, IsEquality(filter!, column));
            }
            if (filterColumnsOnly)
            {
                continue;
            }
            foreach (var condition in conditions)
            {
                foreach (Match match in Qualified().Matches(StripLiterals(condition)))
                {
                    if (match.Groups[1].Value == alias)
                    {
                        Use(table, match.Groups[2].Value, IsEquality(condition, $"{alias}.{match.Groups[2].Value}"));
                    }
                }
            }
        }
        if (!filterColumnsOnly)
        {
            foreach (var (tableOid, column, equality) in qualified)
            {
                if (await catalog.FindAsync(tableOid, cancellationToken) is { } table && columnsByTable.ContainsKey(table.Oid))
                {
                    Use(table, column, equality);
                }
            }
        }

        var candidates = new List<CandidateKey>();
        foreach (var (table, used) in columnsByTable.Values)
        {
            var columns = used.OrderByDescending(c => c.Equality).Select(c => c.Column).Take(MaxColumnsPerTable).ToList();
            if (filterColumnsOnly)
            {
                candidates.Add(new CandidateKey(table.Schema, table.Name, [.. columns.Take(2)]));
                continue;
            }
            candidates.AddRange(columns.Select(c => new CandidateKey(table.Schema, table.Name, [c])));
            candidates.AddRange(from a in columns from b in columns where a != b select new CandidateKey(table.Schema, table.Name, [a, b]));
        }
        return [.. candidates.Where(c => !catalog.HasIndexLeadingWith(c))];
    }

    private static void Walk(JsonElement node, List<(string, string, string?)> scans, List<string> conditions)
    {
        var type = node.GetProperty("Node Type").GetString();
        if (type == "Seq Scan" && node.TryGetProperty("Relation Name", out var relation))
        {
            scans.Add((relation.GetString()!, node.TryGetProperty("Alias", out var alias) ? alias.GetString()! : relation.GetString()!,
                node.TryGetProperty("Filter", out var filter) ? filter.GetString() : null));
        }
        foreach (var name in (string[])["Join Filter", "Hash Cond", "Merge Cond"])
        {
            if (node.TryGetProperty(name, out var condition) && condition.GetString() is { } text)
            {
                conditions.Add(text);
            }
        }
        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                Walk(child, scans, conditions);
            }
        }
    }

    private static async Task<(double Cost, long? Size)> HypotheticalCostAsync(NpgsqlConnection connection, CandidateKey candidate, string sql,
        StatementSample? sample, int timeoutMs, CancellationToken cancellationToken)
    {
        long oid;
        await using (var create = new NpgsqlCommand("SELECT indexrelid FROM hypopg_create_index($1)", connection))
        {
            create.Parameters.Add(new NpgsqlParameter { Value = $"CREATE INDEX ON {Quote(candidate.Schema)}.{Quote(candidate.Table)} ({string.Join(", ", candidate.Columns.Select(Quote))})" });
            oid = Convert.ToInt64(await create.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }
        try
        {
            var plan = await PlanExplainer.ExplainAsync(connection, sql, sample, timeoutMs, cancellationToken);
            await using var size = new NpgsqlCommand("SELECT hypopg_relation_size($1::oid)", connection);
            size.Parameters.Add(new NpgsqlParameter { Value = oid });
            return (plan.TotalCost, Convert.ToInt64(await size.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            await using var drop = new NpgsqlCommand("SELECT hypopg_drop_index($1::oid)", connection);
            drop.Parameters.Add(new NpgsqlParameter { Value = oid });
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>Without hypopg: rows × (key widths from pg_stats + tuple overhead), at btree's 90 % fill factor.</summary>
    private static async Task<long?> EstimateSizeAsync(NpgsqlConnection connection, CandidateKey candidate, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT (c.reltuples * (16 + coalesce(sum(s.avg_width), 8)) / 0.9)::bigint
            FROM pg_class c
            LEFT JOIN pg_stats s ON s.schemaname = $1 AND s.tablename = $2 AND s.attname = ANY($3)
            WHERE c.oid = to_regclass(quote_ident($1) || '.' || quote_ident($2))
            GROUP BY c.reltuples
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = candidate.Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = candidate.Table });
        command.Parameters.Add(new NpgsqlParameter { Value = candidate.Columns.ToArray() });
        return await command.ExecuteScalarAsync(cancellationToken) is long size && size > 0 ? size : null;
    }

    private static void Add(Dictionary<CandidateKey, List<(WorkloadStatement, AdvisedStatement)>> found, CandidateKey key, WorkloadStatement statement, AdvisedStatement advised)
    {
        if (!found.TryGetValue(key, out var list))
        {
            found[key] = list = [];
        }
        list.Add((statement, advised));
    }

    private static IEnumerable<string> Identifiers(string? condition) =>
        condition is null ? [] : Identifier().Matches(StripLiterals(condition)).Select(m => m.Value).Distinct(StringComparer.Ordinal);

    private static bool IsEquality(string condition, string column) =>
        Regex.IsMatch(StripLiterals(condition), $@"(^|[^.\w]){Regex.Escape(column)}\s*=\s*[^=]|[^<>!]=\s*{Regex.Escape(column)}\b");

    private static string StripLiterals(string text) => Literal().Replace(text, "''");

    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [GeneratedRegex(@"'(?:[^']|'')*'")]
    private static partial Regex Literal();

    [GeneratedRegex(@"(?<![.\w])[a-z_][a-z0-9_]*(?![.\w(])")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b")]
    private static partial Regex Qualified();

    [LoggerMessage(LogLevel.Warning, "Index advisor: could not evaluate {Candidate}: {Message}")]
    private partial void LogCandidateFailed(string candidate, string message);

    [LoggerMessage(LogLevel.Information, "Index advisor: building {Statement}")]
    private partial void LogBuilding(string statement);

    [LoggerMessage(LogLevel.Warning, "Index advisor: {Name} rolled back. {Verdict}")]
    private partial void LogRolledBack(string name, string verdict);

    [LoggerMessage(LogLevel.Information, "Index advisor: {Name} built in {BuildMs:0} ms")]
    private partial void LogBuilt(string name, double buildMs);

    private sealed record WorkloadStatement(string Fingerprint, string Query, string Sql, long Calls, double MeanMs, IReadOnlyList<long> QueryIds)
    {
        public StatementVerdict Verdict(StatementSample? sample, string outcome, string detail) =>
            new(Fingerprint, Query, sample?.Name, Calls, Math.Round(MeanMs, 3), outcome, detail);
    }

    private sealed record CandidateKey(string Schema, string Table, IReadOnlyList<string> Columns)
    {
        public string Display => $"{Table} ({string.Join(", ", Columns)})";

        public string Name
        {
            get
            {
                var name = $"ix_{Table}_{string.Join('_', Columns)}";
                return name.Length <= 63 ? name : name[..54] + "_" + SqlFingerprint.Of(name).Hash[..8];
            }
        }

        public string CreateStatement =>
            $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {Quote(Name)} ON {Quote(Schema)}.{Quote(Table)} ({string.Join(", ", Columns.Select(Quote))})";

        public bool Equals(CandidateKey? other) =>
            other is not null && Schema == other.Schema && Table == other.Table && Columns.SequenceEqual(other.Columns, StringComparer.Ordinal);

        public override int GetHashCode() => HashCode.Combine(Schema, Table, string.Join(',', Columns));
    }

    /// <summary>Tables by name or oid with their columns and existing index keys, looked up once per advice run.</summary>
    private sealed class Catalog(NpgsqlConnection connection)
    {
        private readonly Dictionary<string, Table?> _byName = new(StringComparer.Ordinal);
        private readonly List<Table> _tables = [];

        public sealed record Table(uint Oid, string Schema, string Name, HashSet<string> Columns, List<string[]> IndexKeys);

        public Task<Table?> FindAsync(string relation, CancellationToken cancellationToken) =>
            LoadAsync(relation, "c.oid = to_regclass(quote_ident($1))", relation, cancellationToken);

        public async Task<Table?> FindAsync(uint oid, CancellationToken cancellationToken) =>
            _tables.FirstOrDefault(t => t.Oid == oid) ?? await LoadAsync("#" + oid, "c.oid = $1::bigint::oid", (long)oid, cancellationToken);

        public bool HasIndexLeadingWith(CandidateKey candidate) =>
            _tables.Any(t => t.Schema == candidate.Schema && t.Name == candidate.Table &&
                t.IndexKeys.Any(keys => keys.Length >= candidate.Columns.Count && keys.Take(candidate.Columns.Count).SequenceEqual(candidate.Columns, StringComparer.Ordinal)));

        private async Task<Table?> LoadAsync(string cacheKey, string predicate, object value, CancellationToken cancellationToken)
        {
            if (_byName.TryGetValue(cacheKey, out var known))
            {
                return known;
            }
            await using var command = new NpgsqlCommand($"""
                SELECT c.oid, n.nspname, c.relname,
                  ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped),
                  ARRAY(SELECT array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord), ',')
                        FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE {predicate} AND c.relkind IN ('r', 'p', 'm')
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = value });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            Table? table = null;
            if (await reader.ReadAsync(cancellationToken))
            {
                table = new Table(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2),
                    new HashSet<string>(reader.GetFieldValue<string[]>(3), StringComparer.Ordinal),
                    [.. reader.GetFieldValue<string[]>(4).Select(keys => keys.Split(','))]);
                _tables.Add(table);
            }
            _byName[cacheKey] = table;
            return table;
        }
    }
}
