using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using AspirePerf.Workforce.Model;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace AspirePerf.Workforce.Seeding;

public sealed class SeedingOptions
{
    public const string SectionName = "Seeding";

    /// <summary>Off: the database is migrated but not filled (an operator brings their own data).</summary>
    public bool Enabled { get; set; } = true;

    public int Seed { get; set; } = 42;

    /// <summary>Number of employment spells; every other table is sized from it.</summary>
    [System.ComponentModel.DataAnnotations.Range(10, 50_000_000)]
    public int Scale { get; set; } = 1_000_000;

    /// <summary>Replace data seeded with a different seed or scale instead of keeping it.</summary>
    public bool Reseed { get; set; }
}

public enum SeedResult
{
    Seeded,
    AlreadySeeded,
    KeptDifferentSeed,
    Disabled,
}

public sealed record SeedOutcome(SeedResult Result, SeedMarker? Marker);

public sealed record SeedProgress(string Table, long RowsDone, long RowsTotal, double RowsPerSecond)
{
    public double Percent => RowsTotal == 0 ? 100 : 100.0 * RowsDone / RowsTotal;
}

/// <summary>
/// Loads the generated workload with binary COPY in one transaction, together with the marker that records seed,
/// scale and a checksum: a crash mid-way leaves nothing behind, and a seeded database is never seeded twice.
/// Callers serialise concurrent seeders (see <see cref="WorkforceDatabaseInitializer"/>).
/// </summary>
public sealed partial class WorkforceSeeder(NpgsqlDataSource dataSource, TimeProvider time, ILogger<WorkforceSeeder> logger)
{
    public const int Version = 1;
    private const int ProgressEveryRows = 50_000;

    public async Task<SeedOutcome> SeedAsync(SeedingOptions options, IProgress<SeedProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var existing = await ReadMarkerAsync(cancellationToken);
        if (!options.Enabled)
        {
            return new(SeedResult.Disabled, existing);
        }
        if (existing is not null)
        {
            if (existing.Seed == options.Seed && existing.Scale == options.Scale && existing.Version == Version)
            {
                return new(SeedResult.AlreadySeeded, existing);
            }
            if (!options.Reseed)
            {
                LogKeptDifferent(existing.Seed, existing.Scale, options.Seed, options.Scale);
                return new(SeedResult.KeptDifferentSeed, existing);
            }
        }

        var started = Stopwatch.GetTimestamp();
        var generator = new WorkforceGenerator(options.Seed, options.Scale);
        var (persons, spells) = generator.PersonsAndSpells();
        var totalRows = (long)ReferenceData.Sectors.Count + ReferenceData.Regions.Count + ReferenceData.Occupations.Count
            + generator.EmployerCount + persons.Count + spells.Count + generator.VacancyCount;
        var tracker = new ProgressTracker(totalRows, progress, started);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection,
            "TRUNCATE employment_spells, vacancies, persons, employers, occupations, sectors, regions, seed_markers", cancellationToken);
        // PostgreSQL's advice for bulk loads: drop foreign keys, load, re-add them. Re-adding validates each constraint
        // with one join instead of a trigger call per row (millions of index probes), and keeps every constraint.
        var foreignKeys = await DropForeignKeysAsync(connection, cancellationToken);

        await CopyAsync(connection, "sectors (id, code, name)", ReferenceData.Sectors, async (w, s, ct) =>
        {
            await w.WriteAsync(s.Id, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(s.Code, NpgsqlDbType.Text, ct);
            await w.WriteAsync(s.Name, NpgsqlDbType.Text, ct);
        }, tracker, "sectors", cancellationToken);
        await CopyAsync(connection, "regions (id, code, name)", ReferenceData.Regions, async (w, r, ct) =>
        {
            await w.WriteAsync(r.Id, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(r.Code, NpgsqlDbType.Text, ct);
            await w.WriteAsync(r.Name, NpgsqlDbType.Text, ct);
        }, tracker, "regions", cancellationToken);
        await CopyAsync(connection, "occupations (id, code, title, major_group, skill_level)", ReferenceData.Occupations, async (w, o, ct) =>
        {
            await w.WriteAsync(o.Id, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(o.Code, NpgsqlDbType.Text, ct);
            await w.WriteAsync(o.Title, NpgsqlDbType.Text, ct);
            await w.WriteAsync(o.MajorGroup, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(o.SkillLevel, NpgsqlDbType.Smallint, ct);
        }, tracker, "occupations", cancellationToken);
        await CopyAsync(connection, "employers (id, name, sector_id, region_id, size_band, ownership, founded_year)", generator.Employers(), async (w, e, ct) =>
        {
            await w.WriteAsync(e.Id, NpgsqlDbType.Integer, ct);
            await w.WriteAsync(e.Name, NpgsqlDbType.Text, ct);
            await w.WriteAsync(e.SectorId, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(e.RegionId, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(e.SizeBand, NpgsqlDbType.Text, ct);
            await w.WriteAsync(e.Ownership, NpgsqlDbType.Text, ct);
            await w.WriteAsync(e.FoundedYear, NpgsqlDbType.Smallint, ct);
        }, tracker, "employers", cancellationToken);
        await CopyAsync(connection, "persons (id, nationality_group, gender, birth_year, education)", persons, async (w, p, ct) =>
        {
            await w.WriteAsync(p.Id, NpgsqlDbType.Integer, ct);
            await w.WriteAsync(p.NationalityGroup, NpgsqlDbType.Text, ct);
            await w.WriteAsync(p.Gender, NpgsqlDbType.Text, ct);
            await w.WriteAsync(p.BirthYear, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(p.Education, NpgsqlDbType.Text, ct);
        }, tracker, "persons", cancellationToken);
        await CopyAsync(connection, "employment_spells (id, person_id, employer_id, occupation_id, start_date, end_date, monthly_wage, contract_type)", spells, async (w, s, ct) =>
        {
            await w.WriteAsync(s.Id, NpgsqlDbType.Bigint, ct);
            await w.WriteAsync(s.PersonId, NpgsqlDbType.Integer, ct);
            await w.WriteAsync(s.EmployerId, NpgsqlDbType.Integer, ct);
            await w.WriteAsync(s.OccupationId, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(s.StartDate, NpgsqlDbType.Date, ct);
            if (s.EndDate is { } end)
            {
                await w.WriteAsync(end, NpgsqlDbType.Date, ct);
            }
            else
            {
                await w.WriteNullAsync(ct);
            }
            await w.WriteAsync(s.MonthlyWage, NpgsqlDbType.Numeric, ct);
            await w.WriteAsync(s.ContractType, NpgsqlDbType.Text, ct);
        }, tracker, "employment_spells", cancellationToken);
        await CopyAsync(connection, "vacancies (id, employer_id, occupation_id, posted_date, filled_date, offered_wage)", generator.Vacancies(), async (w, v, ct) =>
        {
            await w.WriteAsync(v.Id, NpgsqlDbType.Integer, ct);
            await w.WriteAsync(v.EmployerId, NpgsqlDbType.Integer, ct);
            await w.WriteAsync(v.OccupationId, NpgsqlDbType.Smallint, ct);
            await w.WriteAsync(v.PostedDate, NpgsqlDbType.Date, ct);
            if (v.FilledDate is { } filled)
            {
                await w.WriteAsync(filled, NpgsqlDbType.Date, ct);
            }
            else
            {
                await w.WriteNullAsync(ct);
            }
            await w.WriteAsync(v.OfferedWage, NpgsqlDbType.Numeric, ct);
        }, tracker, "vacancies", cancellationToken);

        foreach (var (table, name, definition) in foreignKeys)
        {
            await ExecuteAsync(connection, $"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}", cancellationToken);
        }

        var marker = new SeedMarker
        {
            Id = 1,
            Version = Version,
            Seed = options.Seed,
            Scale = options.Scale,
            Checksum = await ComputeChecksumAsync(connection, cancellationToken),
            Rows = totalRows,
            DurationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            SeededAt = time.GetUtcNow(),
        };
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO seed_markers (id, version, seed, scale, checksum, rows, duration_ms, seeded_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7)", connection))
        {
            insert.Parameters.Add(new() { Value = marker.Version });
            insert.Parameters.Add(new() { Value = marker.Seed });
            insert.Parameters.Add(new() { Value = marker.Scale });
            insert.Parameters.Add(new() { Value = marker.Checksum });
            insert.Parameters.Add(new() { Value = marker.Rows });
            insert.Parameters.Add(new() { Value = marker.DurationMs });
            insert.Parameters.Add(new() { Value = marker.SeededAt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        // Planner statistics now, not whenever autovacuum gets to it: the first queries should get real plans.
        await ExecuteAsync(connection, "ANALYZE", cancellationToken);
        marker.DurationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return new(SeedResult.Seeded, marker);
    }

    public Task<SeedMarker?> ReadMarkerAsync(CancellationToken cancellationToken) => ReadMarkerAsync(dataSource, cancellationToken);

    /// <summary>The seed marker, or null when the database was never seeded.</summary>
    public static async Task<SeedMarker?> ReadMarkerAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand(
            "SELECT version, seed, scale, checksum, rows, duration_ms, seeded_at FROM seed_markers WHERE id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        return new SeedMarker
        {
            Id = 1,
            Version = reader.GetInt32(0),
            Seed = reader.GetInt32(1),
            Scale = reader.GetInt32(2),
            Checksum = reader.GetString(3),
            Rows = reader.GetInt64(4),
            DurationMs = reader.GetDouble(5),
            SeededAt = reader.GetFieldValue<DateTimeOffset>(6),
        };
    }

    /// <summary>SHA-256 over key aggregates of every table: equal for equal data, different for any seed change.</summary>
    public static async Task<string> ComputeChecksumAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT concat_ws('|',
              (SELECT count(*) FROM employers), (SELECT sum(id::bigint * 13 + sector_id * 7 + region_id) FROM employers),
              (SELECT string_agg(DISTINCT size_band || ':' || ownership, ',') FROM employers),
              (SELECT count(*) FROM persons), (SELECT sum(birth_year::bigint) FROM persons),
              (SELECT count(*) FILTER (WHERE nationality_group = 'citizen') FROM persons),
              (SELECT count(*) FILTER (WHERE gender = 'female') FROM persons),
              (SELECT count(*) FROM employment_spells), (SELECT sum(monthly_wage) FROM employment_spells),
              (SELECT sum(employer_id::bigint * 3 + occupation_id) FROM employment_spells),
              (SELECT sum(start_date - date '2000-01-01') FROM employment_spells), (SELECT count(end_date) FROM employment_spells),
              (SELECT count(*) FROM vacancies), (SELECT sum(offered_wage) FROM vacancies),
              (SELECT sum(coalesce(filled_date - posted_date, -1)) FROM vacancies))
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        var aggregates = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(aggregates)));
    }

    private static async Task CopyAsync<T>(
        NpgsqlConnection connection,
        string target,
        IEnumerable<T> rows,
        Func<NpgsqlBinaryImporter, T, CancellationToken, Task> writeRow,
        ProgressTracker tracker,
        string table,
        CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync($"COPY {target} FROM STDIN (FORMAT BINARY)", cancellationToken);
        var sinceReport = 0;
        foreach (var row in rows)
        {
            await importer.StartRowAsync(cancellationToken);
            await writeRow(importer, row, cancellationToken);
            if (++sinceReport == ProgressEveryRows)
            {
                tracker.Advance(table, sinceReport);
                sinceReport = 0;
            }
        }
        await importer.CompleteAsync(cancellationToken);
        tracker.Advance(table, sinceReport);
    }

    /// <summary>Drops the foreign keys of the workload tables and returns them (quoted names, definitions) for re-adding.</summary>
    private static async Task<List<(string Table, string Name, string Definition)>> DropForeignKeysAsync(
        NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var foreignKeys = new List<(string, string, string)>();
        await using (var read = new NpgsqlCommand("""
            SELECT quote_ident(cl.relname), quote_ident(c.conname), pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid
            WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
            ORDER BY 1, 2
            """, connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                foreignKeys.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }
        foreach (var (table, name, _) in foreignKeys)
        {
            await ExecuteAsync(connection, $"ALTER TABLE {table} DROP CONSTRAINT {name}", cancellationToken);
        }
        return foreignKeys;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed class ProgressTracker(long total, IProgress<SeedProgress>? progress, long started)
    {
        private long _done;

        public void Advance(string table, long rows)
        {
            _done += rows;
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            progress?.Report(new SeedProgress(table, _done, total, seconds > 0 ? _done / seconds : 0));
        }
    }

    [LoggerMessage(LogLevel.Warning, "The database holds data seeded with seed {ExistingSeed} and scale {ExistingScale}; keeping it rather than seeding {Seed}/{Scale} (set Seeding:Reseed=true to replace it)")]
    private partial void LogKeptDifferent(int existingSeed, int existingScale, int seed, int scale);
}
