using Npgsql;

namespace AspirePerf.AppHost.Local.Launcher;

public sealed record PostgresServerOptions
{
    /// <summary>The cluster folder; initdb runs into it when it holds no cluster yet.</summary>
    public required string DataDirectory { get; init; }

    public required string Password { get; init; }

    public int Port { get; init; } = 55432;

    /// <summary>When set, the only folder searched for initdb and postgres.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>Libraries to preload when installed; pg_stat_statements is required, the others optional.</summary>
    public IReadOnlyList<string> PreloadLibraries { get; init; } = ["pg_stat_statements", "pg_qualstats"];

    /// <summary>Extra <c>-c name=value</c> server settings (tests turn fsync off, for instance).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>A PostgreSQL server process on a loopback port, initialised on first use, used by AppHost.Local and tests.</summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string UserName = "postgres";
    public const string Package = "postgresql-15";

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

    /// <summary>Finds the binaries (or throws <see cref="MissingBinaryException"/>), initialises the cluster if needed and starts it.</summary>
    public static async Task<PostgresServer> StartAsync(PostgresServerOptions options, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var postgres = BinaryLocator.Find("postgres", options.BinDirectory, BinaryLocator.PostgresDirectories())
            ?? throw new MissingBinaryException(BinaryLocator.MissingMessage("postgres", Package));
        var binDirectory = Path.GetDirectoryName(postgres)!;
        var libDirectory = Path.GetFullPath(Path.Combine(binDirectory, "..", "lib"));
        var preloaded = options.PreloadLibraries
            .Where(lib => File.Exists(Path.Combine(libDirectory, lib + ".so")))
            .ToList();
        if (!preloaded.Contains("pg_stat_statements") && options.PreloadLibraries.Contains("pg_stat_statements"))
        {
            throw new MissingBinaryException(BinaryLocator.MissingMessage("pg_stat_statements", "postgresql-contrib"));
        }

        var server = new PostgresServer(options, log, binDirectory, preloaded);
        await server.InitializeClusterAsync(cancellationToken);
        await server.StartProcessAsync(cancellationToken);
        return server;
    }

    private async Task InitializeClusterAsync(CancellationToken cancellationToken)
    {
        var data = _options.DataDirectory;
        if (File.Exists(Path.Combine(data, "PG_VERSION")))
        {
            return;
        }

        var initdb = Path.Combine(BinDirectory, "initdb");
        if (!File.Exists(initdb))
        {
            throw new MissingBinaryException(BinaryLocator.MissingMessage("initdb", Package));
        }

        _log.WriteLine($"[postgres] initialising a new cluster in {data}");
        Directory.CreateDirectory(data);
        var passwordFile = Path.Combine(data, "..", $".pwfile-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, Password, cancellationToken);
        try
        {
            if (UnixAccount.IsRoot && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
            await UnixAccount.GiveToServerAccountAsync(data, cancellationToken);
            var (file, args) = UnixAccount.AsServerAccount(initdb,
            [
                "-D", data, "-U", UserName, "--auth=scram-sha-256", $"--pwfile={passwordFile}",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            ]);
            var process = ManagedProcess.Start("postgres", file, args, _log);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed with exit code {process.ExitCode}:{Environment.NewLine}{process.RecentOutput}");
            }
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>
        {
            ["listen_addresses"] = "localhost",
            ["port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["unix_socket_directories"] = "",
            ["shared_preload_libraries"] = string.Join(',', PreloadedLibraries),
            ["pg_stat_statements.track"] = "all",
            // pg_qualstats samples 1 / max_connections of statements by default; a tenth gives the advisor data sooner.
            ["pg_qualstats.sample_rate"] = "0.1",
            ["log_min_messages"] = "warning",
        };
        foreach (var (key, value) in _options.Settings)
        {
            settings[key] = value;
        }
        var args = new List<string> { "-D", _options.DataDirectory };
        foreach (var (key, value) in settings)
        {
            args.Add("-c");
            args.Add($"{key}={value}");
        }

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
    public async Task CreateDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(database) || !database.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw new ArgumentException($"'{database}' is not a valid database name: letters, digits, '_' and '-' only.", nameof(database));
        }
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.AddWithValue(database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
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
