using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.AppHost.Infrastructure;

/// <summary>
/// PostgreSQL and Redis from the locally installed binaries, run by the orchestrator like any executable, where no
/// container runtime answers. Their endpoints are not proxied: the services talk to the servers directly, so the
/// data path is the same as with containers on a host network (no orchestrator proxy in every query's latency).
/// </summary>
public static class ExecutableInfrastructure
{
    public static InfrastructureResources AddExecutableInfrastructure(this IDistributedApplicationBuilder builder, AppHostSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        var dataDirectory = settings.ResolveDataDirectory(builder.AppHostDirectory);
        UnixAccount.CreateTraversableDirectory(dataDirectory);
        var secrets = LocalSecrets.LoadOrCreate(Path.Combine(dataDirectory, "secrets.json"));

        var postgres = builder.AddPostgresExecutable(InfrastructureResources.PostgresName, settings, Path.Combine(dataDirectory, "postgres"),
            builder.AddParameter($"{InfrastructureResources.PostgresName}-password", secrets.PostgresPassword, secret: true));
        var workforce = postgres.AddDatabase(InfrastructureResources.WorkforceName);
        var cache = builder.AddRedisExecutable(InfrastructureResources.CacheName, settings, Path.Combine(dataDirectory, "redis"),
            builder.AddParameter($"{InfrastructureResources.CacheName}-password", secrets.RedisPassword, secret: true));
        return new(postgres, workforce, cache);
    }

    public static IResourceBuilder<PostgresExecutableResource> AddPostgresExecutable(this IDistributedApplicationBuilder builder, string name,
        AppHostSettings settings, string clusterDirectory, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(password);
        var binDirectory = ServerBinaries.PostgresBinDirectory(settings.Postgres.BinDirectory);
        var serverSettings = InfrastructureResources.PostgresServerSettings(ServerBinaries.PreloadLibraries(binDirectory), settings.Postgres.Settings);
        string[] serverArguments =
        [
            "-D", clusterDirectory,
            // TCP on loopback only; the port comes from PGPORT, which the orchestrator sets from the endpoint.
            "-c", "listen_addresses=localhost", "-c", "unix_socket_directories=", "-c", "log_min_messages=warning",
            .. InfrastructureResources.AsServerArguments(serverSettings),
        ];
        var (file, arguments) = UnixAccount.AsServerAccount(Path.Combine(binDirectory, "postgres"), serverArguments);

        var workingDirectory = Path.GetDirectoryName(clusterDirectory)!;
        var resource = new PostgresExecutableResource(name, "/bin/sh", workingDirectory, password.Resource);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource, async (e, ct) =>
        {
            var logger = e.Services.GetRequiredService<ResourceLoggerService>().GetLogger(resource);
            await PostgresCluster.EnsureInitializedAsync(binDirectory, clusterDirectory,
                await password.Resource.GetValueAsync(ct).ConfigureAwait(false) ?? throw new InvalidOperationException("The PostgreSQL password has no value."),
                logger, ct).ConfigureAwait(false);
            // A restart right after a stop: the orchestrator stops servers in the background, after the AppHost exits.
            await PostgresCluster.WaitForPreviousServerAsync(clusterDirectory, TimeSpan.FromSeconds(60), logger, ct).ConfigureAwait(false);
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource, async (_, ct) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));
        builder.Eventing.Subscribe<ResourceReadyEvent>(resource, (_, ct) => CreateDatabasesAsync(resource, AdminConnectionString(connectionString), ct));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddNpgSql(_ => AdminConnectionString(connectionString), name: healthCheck);

        return builder.AddResource(resource)
            // sh runs the server with stderr joined to stdout (PostgreSQL logs every line to stderr, which the dashboard
            // would show as errors) and turns the orchestrator's SIGTERM into SIGINT: PostgreSQL's "fast" shutdown, which
            // disconnects clients and writes a clean checkpoint, where SIGTERM's "smart" one waits for every client to
            // leave and is then killed, leaving crash recovery (and a stale postmaster.pid) to the next start.
            .WithArgs(["-c", ForwardStopAsSigint, file, .. arguments])
            .WithEndpoint(port: PortSettings.OrDynamic(settings.Ports.Postgres), name: PostgresExecutableResource.PrimaryEndpointName,
                scheme: "tcp", env: "PGPORT", isProxied: false)
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheck);
    }

    public static IResourceBuilder<PostgresExecutableDatabaseResource> AddDatabase(this IResourceBuilder<PostgresExecutableResource> builder, string name, string? databaseName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        databaseName ??= name;
        if (databaseName.Length == 0 || !databaseName.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{databaseName}' is not a valid database name here: letters, digits and '_' only.", nameof(databaseName));
        }
        var database = new PostgresExecutableDatabaseResource(name, databaseName, builder.Resource);
        builder.Resource.AddDatabase(name, databaseName);

        string? connectionString = null;
        builder.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, ct) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));
        var healthCheck = $"{name}_check";
        // Healthy once the database exists and accepts a connection (the server creates it when it is ready).
        builder.ApplicationBuilder.Services.AddHealthChecks().AddNpgSql(
            _ => connectionString ?? throw new InvalidOperationException($"The connection string of '{name}' is not available yet."), name: healthCheck);
        return builder.ApplicationBuilder.AddResource(database)
            .WithIconName("Database")
            .WithHealthCheck(healthCheck)
            .OnInitializeResource((db, e, ct) =>
            {
                // Aspire mirrors a container server's state onto its databases, but not an executable's: do the same here.
                _ = MirrorParentStateAsync(db, e.Notifications, ct);
                return Task.CompletedTask;
            });
    }

    private static async Task MirrorParentStateAsync(PostgresExecutableDatabaseResource database, ResourceNotificationService notifications, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var update in notifications.WatchAsync(cancellationToken).ConfigureAwait(false))
            {
                if (update.Resource == database.Parent)
                {
                    var server = update.Snapshot;
                    await notifications.PublishUpdateAsync(database, s => s with
                    {
                        State = server.State,
                        StartTimeStamp = server.StartTimeStamp,
                        StopTimeStamp = server.StopTimeStamp,
                    }).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The AppHost is stopping.
        }
    }

    public static IResourceBuilder<RedisExecutableResource> AddRedisExecutable(this IDistributedApplicationBuilder builder, string name,
        AppHostSettings settings, string workingDirectory, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(password);
        var redisServer = ServerBinaries.RedisServer(settings.RedisBinDirectory);
        Directory.CreateDirectory(workingDirectory);
        var resource = new RedisExecutableResource(name, "/bin/sh", workingDirectory, password.Resource);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource, async (_, ct) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"The connection string of '{name}' is not available yet."), name: healthCheck);

        return builder.AddResource(resource)
            // The password and port arrive as environment variables, so neither shows on the command line; sh execs
            // redis-server in its place.
            .WithArgs(["-c", "exec \"$0\" --port \"$REDIS_PORT\" --requirepass \"$REDIS_PASSWORD\" \"$@\"", redisServer,
                .. InfrastructureResources.RedisServerArguments(workingDirectory)])
            .WithEnvironment("REDIS_PASSWORD", password)
            .WithEndpoint(port: PortSettings.OrDynamic(settings.Ports.Cache), name: RedisExecutableResource.PrimaryEndpointName,
                scheme: "tcp", env: "REDIS_PORT", isProxied: false)
            .WithIconName("Database")
            .WithHealthCheck(healthCheck);
    }

    private const string ForwardStopAsSigint =
        "\"$0\" \"$@\" 2>&1 & child=$!; trap 'kill -INT $child 2>/dev/null' TERM INT; " +
        "wait $child; status=$?; while kill -0 $child 2>/dev/null; do wait $child; status=$?; done; exit $status";

    private static string AdminConnectionString(string? serverConnectionString) =>
        (serverConnectionString ?? throw new InvalidOperationException("The PostgreSQL connection string is not available yet.")) + ";Database=postgres";

    private static async Task CreateDatabasesAsync(PostgresExecutableResource server, string adminConnectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var databaseName in server.Databases.Values)
        {
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
            exists.Parameters.AddWithValue(databaseName);
            if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                // The name was checked to be letters, digits and '_' when the database was declared.
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{databaseName}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
