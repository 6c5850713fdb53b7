using AspirePerf.Performance.Database;
using Npgsql;

namespace AspirePerf.Performance.Auditing;

/// <summary>The audit trail's table in its own schema (<c>audit</c>), migrated at start by the Worker and by tests.</summary>
public static class AuditSchema
{
    private const long AdvisoryLockKey = 0x41756469_744C6F67; // "AuditLog"

    private static readonly (int Version, string Sql)[] Migrations =
    [
        (1, """
            CREATE TABLE audit.entries (
                id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at          timestamptz NOT NULL,
                actor       text        NOT NULL,
                client      text        NULL,
                action      text        NOT NULL,
                parameters  jsonb       NOT NULL,
                status      integer     NOT NULL,
                trace_id    text        NULL
            );
            CREATE INDEX entries_at ON audit.entries (at);
            """),
    ];

    public static Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        SchemaMigrator.MigrateAsync(dataSource, "audit", AdvisoryLockKey, Migrations, cancellationToken);
}
