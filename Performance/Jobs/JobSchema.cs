using AspirePerf.Performance.Database;
using Npgsql;

namespace AspirePerf.Performance.Jobs;

/// <summary>
/// The queue's tables in their own schema (<c>jobs</c>) of whatever database the data source points at, migrated by
/// <see cref="SchemaMigrator"/>: the Worker's initializer, every processor at start and the tests may all call
/// <see cref="MigrateAsync"/> at once.
/// </summary>
public static class JobSchema
{
    // An arbitrary constant shared by every process that migrates the queue; distinct from the workforce seeder's lock.
    private const long AdvisoryLockKey = 0x4A6F62_51756575; // "JobQueue"

    /// <summary>States: 0 available, 1 scheduled, 2 running, 3 retryable, 4 completed, 5 discarded, 6 cancelled.</summary>
    private static readonly (int Version, string Sql)[] Migrations =
    [
        (1, """
            CREATE TABLE jobs.jobs (
                id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                type             text        NOT NULL,
                payload          jsonb       NOT NULL,
                priority         smallint    NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
                state            smallint    NOT NULL CHECK (state BETWEEN 0 AND 6),
                attempt          integer     NOT NULL DEFAULT 0,
                max_attempts     integer     NOT NULL CHECK (max_attempts >= 1),
                run_at           timestamptz NOT NULL,
                timeout_ms       integer     NULL,
                unique_key       text        NULL,
                lease_owner      text        NULL,
                lease_expires_at timestamptz NULL,
                cancel_requested boolean     NOT NULL DEFAULT false,
                progress         smallint    NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
                progress_message text        NULL,
                errors           jsonb       NOT NULL DEFAULT '[]',
                result           jsonb       NULL,
                created_at       timestamptz NOT NULL,
                attempted_at     timestamptz NULL,
                finalized_at     timestamptz NULL
            );
            -- The fetch path: waiting jobs in priority, then due-time order. Final and running rows stay out of it.
            CREATE INDEX jobs_fetch ON jobs.jobs (priority, run_at, id) WHERE state IN (0, 1, 3);
            -- Per-type fetches (batches, limited types).
            CREATE INDEX jobs_fetch_by_type ON jobs.jobs (type, priority, run_at, id) WHERE state IN (0, 1, 3);
            -- Lease rescue scans only running rows.
            CREATE INDEX jobs_leases ON jobs.jobs (lease_expires_at) WHERE state = 2;
            -- Retention deletes by age among final rows.
            CREATE INDEX jobs_finalized ON jobs.jobs (finalized_at) WHERE state IN (4, 5, 6);
            -- Listing by type/state, newest first.
            CREATE INDEX jobs_by_type_state ON jobs.jobs (type, state, id);
            CREATE INDEX jobs_by_state ON jobs.jobs (state, id);
            -- One non-final job per unique key; ON CONFLICT uses this index.
            CREATE UNIQUE INDEX jobs_unique_key ON jobs.jobs (unique_key) WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 3);

            -- Job outputs (e.g. exports) as chunks, so any API node can stream them back whatever process wrote them.
            CREATE TABLE jobs.job_files (
                job_id       bigint  NOT NULL REFERENCES jobs.jobs (id) ON DELETE CASCADE,
                seq          integer NOT NULL,
                data         bytea   NOT NULL,
                PRIMARY KEY (job_id, seq)
            );
            """),
    ];

    public static int LatestVersion => Migrations[^1].Version;

    public static Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        SchemaMigrator.MigrateAsync(dataSource, "jobs", AdvisoryLockKey, Migrations, cancellationToken);
}
