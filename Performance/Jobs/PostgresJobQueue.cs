using System.Data.Common;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspirePerf.Performance.Jobs;

public enum CancelOutcome
{
    NotFound,
    /// <summary>The job was waiting; it is cancelled now.</summary>
    Cancelled,
    /// <summary>The job is running; its worker was told and cancels its token.</summary>
    CancelRequested,
    /// <summary>The job had already finished (completed, discarded or cancelled).</summary>
    AlreadyFinal,
}

public enum RetryOutcome
{
    NotFound,
    Retried,
    /// <summary>Only discarded and cancelled jobs can be retried.</summary>
    NotRetryable,
    /// <summary>Another waiting or running job holds the same unique key.</summary>
    UniqueKeyTaken,
}

/// <summary>A completed attempt waiting to be written (completions are written in batches).</summary>
public readonly record struct JobCompletion(long Id, string? ResultJson, string? ProgressMessage = null);

/// <summary>
/// The durable queue: every read and write of <c>jobs.jobs</c>, in plain parameterized SQL over Npgsql. Enqueue can
/// join the caller's transaction (the job exists only if that transaction commits, and its wake-up notification is
/// delivered only then). Leases are fenced: a processor's writes about an attempt apply only while the row is still
/// running under its own lease, so a rescued job's late first owner can never complete or fail it twice.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "It is a queue: the name DESIGN.md gives it.")]
public sealed class PostgresJobQueue(NpgsqlDataSource dataSource, IOptionsMonitor<JobsOptions> options, TimeProvider time, JobMetrics? metrics = null)
{
    /// <summary>Payload: the job type. Sent on enqueue (if due now), retry and rescue.</summary>
    public const string InsertChannel = "aspireperf_jobs";

    /// <summary>Payload: the job id whose cancellation was requested while it ran.</summary>
    public const string CancelChannel = "aspireperf_jobs_cancel";

    private const string Columns = """
        id, type, payload::text, priority, state, attempt, max_attempts, run_at, unique_key, progress, progress_message,
        errors::text, result::text, cancel_requested, lease_owner, lease_expires_at, created_at, attempted_at, finalized_at
        """;

    public NpgsqlDataSource DataSource => dataSource;

    public TimeProvider Time => time;

    public Task<EnqueuedJob> EnqueueAsync<TPayload>(string type, TPayload payload, JobEnqueueOptions? enqueue = null,
        NpgsqlTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        EnqueueJsonAsync(type, JsonSerializer.Serialize(payload, JobCatalog.PayloadJson), enqueue, transaction, cancellationToken);

    /// <summary>
    /// Inside an EF Core transaction: pass <c>db.Database.CurrentTransaction!.GetDbTransaction()</c> (an Npgsql
    /// transaction under the Npgsql provider).
    /// </summary>
    public Task<EnqueuedJob> EnqueueAsync<TPayload>(string type, TPayload payload, JobEnqueueOptions? enqueue, DbTransaction transaction,
        CancellationToken cancellationToken = default) =>
        EnqueueAsync(type, payload, enqueue, transaction as NpgsqlTransaction
            ?? throw new ArgumentException("The transaction must be an NpgsqlTransaction (EF Core with the Npgsql provider).", nameof(transaction)),
            cancellationToken);

    public async Task<EnqueuedJob> EnqueueJsonAsync(string type, string payloadJson, JobEnqueueOptions? enqueue = null,
        NpgsqlTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(payloadJson);
        enqueue ??= new JobEnqueueOptions();
        var settings = options.CurrentValue;
        var typeOptions = settings.For(type);
        var now = time.GetUtcNow();
        var runAt = enqueue.RunAt is { } at && at > now ? at : now;
        var state = runAt > now ? JobState.Scheduled : JobState.Available;
        var timeout = enqueue.Timeout ?? typeOptions.Timeout;

        var connection = transaction?.Connection;
        var owned = connection is null ? await dataSource.OpenConnectionAsync(cancellationToken) : null;
        try
        {
            connection ??= owned!;
            while (true)
            {
                await using var batch = new NpgsqlBatch(connection, transaction);
                var insert = new NpgsqlBatchCommand("""
                    INSERT INTO jobs.jobs (type, payload, priority, state, max_attempts, run_at, timeout_ms, unique_key, created_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 3) DO NOTHING
                    RETURNING id
                    """);
                insert.Parameters.Add(new() { Value = type });
                insert.Parameters.Add(new() { Value = payloadJson, NpgsqlDbType = NpgsqlDbType.Jsonb });
                insert.Parameters.Add(new() { Value = (short)enqueue.Priority });
                insert.Parameters.Add(new() { Value = (short)state });
                insert.Parameters.Add(new() { Value = enqueue.MaxAttempts ?? typeOptions.MaxAttempts ?? settings.MaxAttempts });
                insert.Parameters.Add(new() { Value = runAt });
                insert.Parameters.Add(new() { Value = timeout is { } t ? (int)Math.Min(int.MaxValue, t.TotalMilliseconds) : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
                insert.Parameters.Add(new() { Value = (object?)enqueue.UniqueKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                insert.Parameters.Add(new() { Value = now });
                batch.BatchCommands.Add(insert);
                if (state == JobState.Available)
                {
                    // Delivered at commit, so a job enqueued in a rolled-back transaction wakes nobody.
                    batch.BatchCommands.Add(Notify(InsertChannel, type));
                }
                var id = (long?)await batch.ExecuteScalarAsync(cancellationToken);
                if (id is { } inserted)
                {
                    metrics?.Enqueued(type, enqueue.Priority);
                    return new EnqueuedJob(inserted, state, Duplicate: false);
                }

                // A live job holds the key: return it. If it finished in between, insert again.
                await using var existing = new NpgsqlCommand(
                    "SELECT id, state FROM jobs.jobs WHERE unique_key = $1 AND state IN (0, 1, 2, 3)", connection, transaction);
                existing.Parameters.Add(new() { Value = enqueue.UniqueKey! });
                await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    return new EnqueuedJob(reader.GetInt64(0), (JobState)reader.GetInt16(1), Duplicate: true);
                }
            }
        }
        finally
        {
            if (owned is not null)
            {
                await owned.DisposeAsync();
            }
        }
    }

    /// <summary>Many jobs of one type in one statement (no unique keys): bulk loads and benchmarks.</summary>
    public async Task<long> EnqueueManyJsonAsync(string type, IReadOnlyList<string> payloadsJson, JobEnqueueOptions? enqueue = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(payloadsJson);
        enqueue ??= new JobEnqueueOptions();
        if (enqueue.UniqueKey is not null)
        {
            throw new ArgumentException("Bulk enqueue does not take unique keys.", nameof(enqueue));
        }
        var settings = options.CurrentValue;
        var now = time.GetUtcNow();
        var runAt = enqueue.RunAt is { } at && at > now ? at : now;
        var state = runAt > now ? JobState.Scheduled : JobState.Available;
        var timeout = enqueue.Timeout ?? settings.For(type).Timeout;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO jobs.jobs (type, payload, priority, state, max_attempts, run_at, timeout_ms, created_at)
            SELECT $1, p::jsonb, $3, $4, $5, $6, $7, $8 FROM unnest($2::text[]) AS p
            """);
        insert.Parameters.Add(new() { Value = type });
        insert.Parameters.Add(new() { Value = payloadsJson.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = (short)enqueue.Priority });
        insert.Parameters.Add(new() { Value = (short)state });
        insert.Parameters.Add(new() { Value = enqueue.MaxAttempts ?? settings.For(type).MaxAttempts ?? settings.MaxAttempts });
        insert.Parameters.Add(new() { Value = runAt });
        insert.Parameters.Add(new() { Value = timeout is { } t ? (int)t.TotalMilliseconds : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        insert.Parameters.Add(new() { Value = now });
        batch.BatchCommands.Add(insert);
        if (state == JobState.Available)
        {
            batch.BatchCommands.Add(Notify(InsertChannel, type));
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
        metrics?.Enqueued(type, enqueue.Priority, insert.RecordsAffected);
        return insert.RecordsAffected;
    }

    public async Task<JobRecord?> GetAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM jobs.jobs WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRecord(reader) : null;
    }

    /// <summary>Newest first; page is 1-based.</summary>
    public async Task<JobPage> ListAsync(JobState? state, string? type, int page, int pageSize, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        const string Filter = "($1::smallint IS NULL OR state = $1) AND ($2::text IS NULL OR type = $2)";
        var list = new NpgsqlBatchCommand($"SELECT {Columns} FROM jobs.jobs WHERE {Filter} ORDER BY id DESC LIMIT $3 OFFSET $4");
        var count = new NpgsqlBatchCommand($"SELECT count(*) FROM jobs.jobs WHERE {Filter}");
        foreach (var command in new[] { list, count })
        {
            command.Parameters.Add(new() { Value = state is { } s ? (short)s : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Smallint });
            command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        }
        list.Parameters.Add(new() { Value = pageSize });
        list.Parameters.Add(new() { Value = (long)(page - 1) * pageSize });
        batch.BatchCommands.Add(list);
        batch.BatchCommands.Add(count);
        var items = new List<JobRecord>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(ReadRecord(reader));
        }
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new JobPage(items, page, pageSize, reader.GetInt64(0));
    }

    /// <summary>A waiting job is cancelled at once; a running one is flagged and its worker notified.</summary>
    public async Task<CancelOutcome> CancelAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        var update = new NpgsqlBatchCommand("""
            UPDATE jobs.jobs
               SET cancel_requested = true,
                   state = CASE WHEN state = 2 THEN 2 ELSE 6 END,
                   finalized_at = CASE WHEN state = 2 THEN NULL ELSE $2 END
             WHERE id = $1 AND state IN (0, 1, 2, 3)
            RETURNING state
            """);
        update.Parameters.Add(new() { Value = id });
        update.Parameters.Add(new() { Value = time.GetUtcNow() });
        batch.BatchCommands.Add(update);
        // Fires only if the job is running (the WHERE sees the row after the UPDATE above, in the same transaction).
        var notify = new NpgsqlBatchCommand($"SELECT pg_notify('{CancelChannel}', $1::text) FROM jobs.jobs WHERE id = $1 AND state = 2 AND cancel_requested");
        notify.Parameters.Add(new() { Value = id });
        batch.BatchCommands.Add(notify);
        var state = await batch.ExecuteScalarAsync(cancellationToken);
        if (state is short s)
        {
            return (JobState)s == JobState.Running ? CancelOutcome.CancelRequested : CancelOutcome.Cancelled;
        }
        return await ExistsAsync(connection, id, cancellationToken) ? CancelOutcome.AlreadyFinal : CancelOutcome.NotFound;
    }

    /// <summary>Re-queues a discarded or cancelled job now, with a fresh attempt count (its error history stays).</summary>
    public async Task<RetryOutcome> RetryAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        var update = new NpgsqlBatchCommand("""
            UPDATE jobs.jobs
               SET state = 0, attempt = 0, run_at = $2, cancel_requested = false, finalized_at = NULL,
                   lease_owner = NULL, lease_expires_at = NULL, progress = 0, progress_message = NULL, result = NULL
             WHERE id = $1 AND state IN (5, 6)
            RETURNING type
            """);
        update.Parameters.Add(new() { Value = id });
        update.Parameters.Add(new() { Value = time.GetUtcNow() });
        batch.BatchCommands.Add(update);
        batch.BatchCommands.Add(Notify(InsertChannel, "retry"));
        try
        {
            if (await batch.ExecuteScalarAsync(cancellationToken) is string)
            {
                return RetryOutcome.Retried;
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return RetryOutcome.UniqueKeyTaken;
        }
        return await ExistsAsync(connection, id, cancellationToken) ? RetryOutcome.NotRetryable : RetryOutcome.NotFound;
    }

    /// <summary>Counts by state and priority; per type over the window: finished jobs, rate and latency percentiles.</summary>
    public async Task<JobStatistics> StatisticsAsync(TimeSpan window, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT state, priority, count(*) FROM jobs.jobs GROUP BY state, priority ORDER BY state, priority"));
        var recent = new NpgsqlBatchCommand("""
            SELECT type,
                   count(*) FILTER (WHERE state = 4),
                   count(*) FILTER (WHERE state = 5),
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM attempted_at - run_at) * 1000) FILTER (WHERE state = 4),
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM finalized_at - attempted_at) * 1000) FILTER (WHERE state = 4)
              FROM jobs.jobs
             WHERE state IN (4, 5) AND finalized_at >= $1
             GROUP BY type ORDER BY type
            """);
        recent.Parameters.Add(new() { Value = now - window });
        batch.BatchCommands.Add(recent);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var depth = new List<JobDepth>();
        var byState = Enum.GetValues<JobState>().ToDictionary(JobStates.Name, _ => 0L, StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var state = JobStates.Name((JobState)reader.GetInt16(0));
            var count = reader.GetInt64(2);
            depth.Add(new JobDepth(state, JobStates.Name((JobPriority)reader.GetInt16(1)), count));
            byState[state] += count;
        }
        await reader.NextResultAsync(cancellationToken);
        var types = new List<JobTypeThroughput>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var wait = reader.IsDBNull(3) ? null : reader.GetFieldValue<double[]>(3);
            var run = reader.IsDBNull(4) ? null : reader.GetFieldValue<double[]>(4);
            var completed = reader.GetInt64(1);
            types.Add(new JobTypeThroughput(reader.GetString(0), completed, reader.GetInt64(2),
                Math.Round(completed / window.TotalSeconds, 3),
                Round(wait?[0]), Round(wait?[1]), Round(wait?[2]), Round(run?[0]), Round(run?[1]), Round(run?[2])));
        }
        return new JobStatistics(now, byState, depth, types);
    }

    /// <summary>
    /// The overall status's view of the queue in one cheap statement (partial indexes only, no percentiles): due jobs
    /// waiting, jobs running, the oldest due job's due time, and jobs discarded since <paramref name="discardedSince"/>.
    /// </summary>
    public async Task<JobBacklog> BacklogAsync(DateTimeOffset discardedSince, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT (SELECT count(*) FROM jobs.jobs WHERE state IN (0, 1, 3) AND run_at <= $1),
                   (SELECT count(*) FROM jobs.jobs WHERE state = 2),
                   (SELECT min(run_at) FROM jobs.jobs WHERE state IN (0, 1, 3) AND run_at <= $1),
                   (SELECT count(*) FROM jobs.jobs WHERE state = 5 AND finalized_at >= $2)
            """);
        command.Parameters.Add(new() { Value = time.GetUtcNow() });
        command.Parameters.Add(new() { Value = discardedSince });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new JobBacklog(reader.GetInt64(0), reader.GetInt64(1),
            reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2), reader.GetInt64(3));
    }

    // ---- The processor's side -------------------------------------------------------------------------------------

    /// <summary>
    /// Leases up to <paramref name="limit"/> due jobs of the given types, highest priority then earliest run_at first.
    /// <c>FOR UPDATE SKIP LOCKED</c>: concurrent fetchers never wait on, nor take, each other's rows.
    /// </summary>
    public async Task<IReadOnlyList<LeasedJob>> FetchAsync(string owner, string[] types, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0 || types.Length == 0)
        {
            return [];
        }
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            WITH next AS (
                SELECT id FROM jobs.jobs
                 WHERE state IN (0, 1, 3) AND run_at <= $1 AND type = ANY($2)
                 ORDER BY priority, run_at, id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
            UPDATE jobs.jobs j
               SET state = 2, attempt = j.attempt + 1, lease_owner = $4, lease_expires_at = $5, attempted_at = $1
              FROM next
             WHERE j.id = next.id
            RETURNING j.id, j.type, j.payload::text, j.priority, j.attempt, j.max_attempts, j.run_at, j.timeout_ms
            """);
        command.Parameters.Add(new() { Value = now });
        command.Parameters.Add(new() { Value = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = limit });
        command.Parameters.Add(new() { Value = owner });
        command.Parameters.Add(new() { Value = now + options.CurrentValue.LeaseDuration });
        var jobs = new List<LeasedJob>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(new LeasedJob(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), (JobPriority)reader.GetInt16(3),
                reader.GetInt32(4), reader.GetInt32(5), reader.GetFieldValue<DateTimeOffset>(6), now,
                reader.IsDBNull(7) ? null : TimeSpan.FromMilliseconds(reader.GetInt32(7))));
        }
        // UPDATE ... RETURNING has no order of its own.
        jobs.Sort(static (a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : a.RunAt != b.RunAt ? a.RunAt.CompareTo(b.RunAt) : a.Id.CompareTo(b.Id));
        return jobs;
    }

    /// <summary>Marks attempts completed in one statement; returns the ids that were still this owner's (the rest lost their lease).</summary>
    public async Task<HashSet<long>> CompleteAsync(string owner, IReadOnlyList<JobCompletion> completions, CancellationToken cancellationToken)
    {
        var done = new HashSet<long>();
        if (completions.Count == 0)
        {
            return done;
        }
        await using var command = dataSource.CreateCommand("""
            UPDATE jobs.jobs j
               SET state = 4, finalized_at = $1, progress = 100, result = c.result::jsonb, lease_expires_at = NULL,
                   progress_message = coalesce(c.message, j.progress_message)
              FROM unnest($2::bigint[], $3::text[], $5::text[]) AS c(id, result, message)
             WHERE j.id = c.id AND j.state = 2 AND j.lease_owner = $4
            RETURNING j.id
            """);
        command.Parameters.Add(new() { Value = time.GetUtcNow() });
        command.Parameters.Add(new() { Value = completions.Select(c => c.Id).ToArray() });
        command.Parameters.Add(new() { Value = completions.Select(c => c.ResultJson).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = owner });
        command.Parameters.Add(new() { Value = completions.Select(c => c.ProgressMessage).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            done.Add(reader.GetInt64(0));
        }
        return done;
    }

    /// <summary>
    /// A failed attempt: retryable at <paramref name="retryAt"/>, or discarded when attempts are used up or
    /// <paramref name="discard"/> is set. Returns the new state, or null if the lease was no longer this owner's.
    /// </summary>
    public async Task<JobState?> FailAsync(string owner, long id, string error, DateTimeOffset retryAt, bool discard, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE jobs.jobs
               SET state = CASE WHEN $5 OR attempt >= max_attempts THEN 5 ELSE 3 END,
                   run_at = CASE WHEN $5 OR attempt >= max_attempts THEN run_at ELSE $4 END,
                   finalized_at = CASE WHEN $5 OR attempt >= max_attempts THEN $3 END,
                   errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', $3, 'error', $6::text)),
                   lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND state = 2 AND lease_owner = $2
            RETURNING state
            """);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = owner });
        command.Parameters.Add(new() { Value = time.GetUtcNow() });
        command.Parameters.Add(new() { Value = retryAt });
        command.Parameters.Add(new() { Value = discard });
        command.Parameters.Add(new() { Value = Truncate(error) });
        return await command.ExecuteScalarAsync(cancellationToken) is short state ? (JobState)state : null;
    }

    /// <summary>The running attempt stopped because someone cancelled the job.</summary>
    public async Task<bool> MarkCancelledAsync(string owner, long id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE jobs.jobs
               SET state = 6, finalized_at = $3, lease_expires_at = NULL,
                   errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', $3, 'error', 'cancelled while running'))
             WHERE id = $1 AND state = 2 AND lease_owner = $2
            """);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = owner });
        command.Parameters.Add(new() { Value = time.GetUtcNow() });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>A stopping processor gives its unfinished jobs back, due now; the interrupted attempt does not count.</summary>
    public async Task ReleaseAsync(string owner, long[] ids, CancellationToken cancellationToken)
    {
        if (ids.Length == 0)
        {
            return;
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        var release = new NpgsqlBatchCommand("""
            UPDATE jobs.jobs
               SET state = CASE WHEN cancel_requested THEN 6 ELSE 3 END,
                   finalized_at = CASE WHEN cancel_requested THEN $3 END,
                   attempt = GREATEST(attempt - 1, 0), run_at = $3, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = ANY($1) AND state = 2 AND lease_owner = $2
            """);
        release.Parameters.Add(new() { Value = ids });
        release.Parameters.Add(new() { Value = owner });
        release.Parameters.Add(new() { Value = time.GetUtcNow() });
        batch.BatchCommands.Add(release);
        batch.BatchCommands.Add(Notify(InsertChannel, "released"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Extends this owner's leases; returns, per id still held, whether a cancel was requested.</summary>
    public async Task<Dictionary<long, bool>> HeartbeatAsync(string owner, long[] ids, CancellationToken cancellationToken)
    {
        var held = new Dictionary<long, bool>(ids.Length);
        if (ids.Length == 0)
        {
            return held;
        }
        await using var command = dataSource.CreateCommand("""
            UPDATE jobs.jobs SET lease_expires_at = $3
             WHERE id = ANY($1) AND state = 2 AND lease_owner = $2
            RETURNING id, cancel_requested
            """);
        command.Parameters.Add(new() { Value = ids });
        command.Parameters.Add(new() { Value = owner });
        command.Parameters.Add(new() { Value = time.GetUtcNow() + options.CurrentValue.LeaseDuration });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            held[reader.GetInt64(0)] = reader.GetBoolean(1);
        }
        return held;
    }

    /// <summary>
    /// Running jobs whose lease expired (their worker died or froze) become retryable now, or discarded when that
    /// was their last attempt, or cancelled if a cancel was pending. Returns how many were rescued.
    /// </summary>
    public async Task<int> RescueExpiredAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        var rescue = new NpgsqlBatchCommand("""
            UPDATE jobs.jobs
               SET state = CASE WHEN cancel_requested THEN 6 WHEN attempt >= max_attempts THEN 5 ELSE 3 END,
                   finalized_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN $1 END,
                   run_at = $1,
                   errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', $1,
                       'error', 'lease expired at ' || lease_expires_at || ' (owner ' || coalesce(lease_owner, '?') || ')')),
                   lease_owner = NULL, lease_expires_at = NULL
             WHERE state = 2 AND lease_expires_at < $1
            """);
        rescue.Parameters.Add(new() { Value = time.GetUtcNow() });
        batch.BatchCommands.Add(rescue);
        batch.BatchCommands.Add(Notify(InsertChannel, "rescued"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return rescue.RecordsAffected;
    }

    public async Task<bool> SaveProgressAsync(string owner, long id, int percent, string? message, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE jobs.jobs SET progress = $3, progress_message = $4 WHERE id = $1 AND state = 2 AND lease_owner = $2");
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = owner });
        command.Parameters.Add(new() { Value = (short)percent });
        command.Parameters.Add(new() { Value = (object?)(message is null ? null : Truncate(message)) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Retention: deletes final jobs older than the given ages, in bounded batches. Returns rows deleted by state.</summary>
    public async Task<(long Completed, long DiscardedOrCancelled)> DeleteFinishedAsync(TimeSpan completedAge, TimeSpan discardedAge, int batchSize,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var completed = await DeleteInBatchesAsync("state = 4", now - completedAge, batchSize, cancellationToken);
        var discarded = await DeleteInBatchesAsync("state IN (5, 6)", now - discardedAge, batchSize, cancellationToken);
        return (completed, discarded);
    }

    private async Task<long> DeleteInBatchesAsync(string states, DateTimeOffset before, int batchSize, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            // states is one of two constants above, never input.
            await using var command = dataSource.CreateCommand($"""
                DELETE FROM jobs.jobs WHERE id IN (
                    SELECT id FROM jobs.jobs WHERE {states} AND finalized_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
                """);
            command.Parameters.Add(new() { Value = before });
            command.Parameters.Add(new() { Value = batchSize });
            var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
            if (deleted < batchSize)
            {
                return total;
            }
        }
    }

    private static NpgsqlBatchCommand Notify(string channel, string payload)
    {
        var notify = new NpgsqlBatchCommand("SELECT pg_notify($1, $2)");
        notify.Parameters.Add(new() { Value = channel });
        notify.Parameters.Add(new() { Value = payload });
        return notify;
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, long id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM jobs.jobs WHERE id = $1)", connection);
        command.Parameters.Add(new() { Value = id });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 2) : null;

    private static string Truncate(string text) => text.Length > 4000 ? text[..4000] + "…" : text;

    private static JobRecord ReadRecord(NpgsqlDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        ParseJson(reader.GetString(2)),
        (JobPriority)reader.GetInt16(3),
        (JobState)reader.GetInt16(4),
        reader.GetInt32(5),
        reader.GetInt32(6),
        reader.GetFieldValue<DateTimeOffset>(7),
        reader.IsDBNull(8) ? null : reader.GetString(8),
        reader.GetInt16(9),
        reader.IsDBNull(10) ? null : reader.GetString(10),
        JsonSerializer.Deserialize<List<JobError>>(reader.GetString(11), JobCatalog.PayloadJson) ?? [],
        reader.IsDBNull(12) ? null : ParseJson(reader.GetString(12)),
        reader.GetBoolean(13),
        reader.IsDBNull(14) ? null : reader.GetString(14),
        reader.IsDBNull(15) ? null : reader.GetFieldValue<DateTimeOffset>(15),
        reader.GetFieldValue<DateTimeOffset>(16),
        reader.IsDBNull(17) ? null : reader.GetFieldValue<DateTimeOffset>(17),
        reader.IsDBNull(18) ? null : reader.GetFieldValue<DateTimeOffset>(18));

    private static JsonElement ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
