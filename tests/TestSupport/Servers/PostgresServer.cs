using AspirePerf.AppHost.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AspirePerf.TestSupport.Servers;

public sealed record PostgresServerOptions
{
    /// <summary>The cluster folder; initdb runs into it when it holds no cluster yet.</summary>
    public required string DataDirectory { get; init; }

    public required string Password { get; init; }

    public int Port { get; init; } = 55432;

    /// <summary>When set, the only folder searched for initdb and postgres.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>Extra <c>-c name=value</c> server settings (tests turn fsync off, for instance).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// A PostgreSQL server process on a loopback port for integration tests: the AppHost's binaries, cluster
/// initialisation and server settings (AppHost/Infrastructure), under a lean supervisor that starts in about a second.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string UserName = "postgres";

    private readonly PostgresServerOptions _options;
    private readonly TextWriter _log;
    private ManagedProcess? _process;

    private PostgresServer(PostgresServerOptions options, TextWriter log, string binDirectory, IReadOnlyList<string> preloaded)
    {
        _options = options;
        _log = log;
        BinDirectory = binDirectory;
        PreloadedLibraries = preloaded;
    }

    public string BinDirectory { get; }

    public IReadOnlyList<string> PreloadedLibraries { get; }

    public int Port => _options.Port;

    public string Password => _options.Password;

    /// <summary>The server connection string in the shape Aspire's PostgresServerResource produces.</summary>
    public string ConnectionString => $"Host=localhost;Port={Port};Username={UserName};Password={Password}";

    /// <summary>A database's connection string, as Aspire's PostgresDatabaseResource appends <c>Database=</c>.</summary>
    public string ConnectionStringFor(string database) => $"{ConnectionString};Database={database}";

    /// <summary>Finds the binaries, initialises the cluster if needed and starts it, exactly as the AppHost's executable does.</summary>
    public static async Task<PostgresServer> StartAsync(PostgresServerOptions options, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var binDirectory = ServerBinaries.PostgresBinDirectory(options.BinDirectory);
        var server = new PostgresServer(options, log, binDirectory, ServerBinaries.PreloadLibraries(binDirectory));
        Directory.CreateDirectory(options.DataDirectory);
        await PostgresCluster.EnsureInitializedAsync(binDirectory, options.DataDirectory, options.Password, NullLogger.Instance, cancellationToken);
        await server.StartProcessAsync(cancellationToken);
        return server;
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        // The AppHost's server settings (preloads), then the test's own, then what the AppHost passes on its command line.
        var settings = new Dictionary<string, string>(InfrastructureResources.PostgresServerSettings(PreloadedLibraries, _options.Settings))
        {
            ["listen_addresses"] = "localhost",
            ["port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["unix_socket_directories"] = "",
            ["log_min_messages"] = "warning",
        };
        var args = new List<string> { "-D", _options.DataDirectory };
        args.AddRange(InfrastructureResources.AsServerArguments(settings));

        var (file, arguments) = UnixAccount.AsServerAccount(Path.Combine(BinDirectory, "postgres"), args);
        _process = ManagedProcess.Start("postgres", file, arguments, _log);
        await WaitUntilAcceptingAsync(cancellationToken);
    }

    private async Task WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.StartTimeout;
        var connectionString = new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false, Timeout = 2 }.ConnectionString;
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException(
                    $"postgres exited with code {_process.ExitCode} while starting on port {Port}:{Environment.NewLine}{_process.RecentOutput}");
            }
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    /// <summary>Creates <paramref name="database"/> unless it exists (Aspire's AppHost does this on resource ready).</summary>
    public Task CreateDatabaseAsync(string database, CancellationToken cancellationToken = default) =>
        CreateDatabaseAsync(database, template: null, cancellationToken);

    /// <summary>
    /// Creates <paramref name="database"/> unless it exists, as a copy of <paramref name="template"/> when one is given
    /// (PostgreSQL copies the template's files; nobody may be connected to the template meanwhile).
    /// </summary>
    public async Task CreateDatabaseAsync(string database, string? template, CancellationToken cancellationToken = default)
    {
        ValidateName(database);
        if (template is not null)
        {
            ValidateName(template);
        }
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.AddWithValue(database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            var copy = template is null ? "" : $" TEMPLATE \"{template}\"";
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"{copy}", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Makes <paramref name="database"/> a template nobody connects to any more: its pooled connections are closed, the
    /// sessions still open are ended, and new connections are refused (so copying it can never meet a session).
    /// </summary>
    public async Task FreezeAsTemplateAsync(string database, CancellationToken cancellationToken = default)
    {
        ValidateName(database);
        NpgsqlConnection.ClearPool(new NpgsqlConnection(ConnectionStringFor(database)));
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using (var freeze = new NpgsqlCommand($"ALTER DATABASE \"{database}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", connection))
        {
            await freeze.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", connection);
        terminate.Parameters.AddWithValue(database);
        await terminate.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void ValidateName(string database)
    {
        if (string.IsNullOrEmpty(database) || !database.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw new ArgumentException($"'{database}' is not a valid database name: letters, digits, '_' and '-' only.", nameof(database));
        }
    }

    /// <summary>Fast shutdown (SIGINT): active transactions are rolled back, the cluster stays consistent.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            await process.StopAsync(ManagedProcess.SigInt, TimeSpan.FromSeconds(30));
            NpgsqlConnection.ClearAllPools();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }
}
