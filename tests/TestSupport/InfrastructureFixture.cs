using System.Collections.Concurrent;
using AspirePerf.TestSupport.Servers;
using Npgsql;
using Xunit;

namespace AspirePerf.TestSupport;

/// <summary>
/// A real PostgreSQL and a real Redis server on free loopback ports, shared by one test collection. Each test class
/// asks for its own database. Servers' output goes to <see cref="LogPath"/>, which a failing test can point to.
/// </summary>
public sealed class InfrastructureFixture : IAsyncLifetime
{
    private readonly StreamWriter _logFile;
    private readonly ConcurrentDictionary<string, Lazy<Task>> _templates = new();
    private int _databaseCounter;

    public InfrastructureFixture()
    {
        RootDirectory = TestDirectories.CreateTraversable("aspireperf-infra");
        LogPath = Path.Combine(RootDirectory, "servers.log");
        _logFile = new StreamWriter(LogPath) { AutoFlush = true };
        Log = TextWriter.Synchronized(_logFile);
    }

    public string RootDirectory { get; }

    public string LogPath { get; }

    public TextWriter Log { get; }

    public PostgresServer Postgres { get; private set; } = null!;

    public RedisServer Redis { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await PostgresServer.StartAsync(TestServers.PostgresOptions(Path.Combine(RootDirectory, "postgres")), Log);
        Redis = await RedisServer.StartAsync(TestServers.RedisOptions(Path.Combine(RootDirectory, "redis")), Log);
    }

    /// <summary>Creates a fresh database for one test class and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string purpose)
    {
        var name = NextName(purpose);
        await Postgres.CreateDatabaseAsync(name);
        return Postgres.ConnectionStringFor(name);
    }

    /// <summary>
    /// A fresh database holding what <see cref="WorkforceDatabase.InitializeAsync"/> leaves (schema, seed, audit trail),
    /// for tests that need the data rather than the seeding: each (seed, scale) is seeded once, into a template that
    /// PostgreSQL then copies (a copy takes a fraction of the migrations and seeding it replaces).
    /// </summary>
    public Task<string> CreateSeededDatabaseAsync(string purpose, int seed = 42, int scale = WorkforceDatabase.SmallScale) =>
        CopyOfTemplateAsync(purpose, FormattableString.Invariant($"template_seed{seed}_scale{scale}"),
            connectionString => WorkforceDatabase.InitializeAsync(connectionString, seed, scale));

    /// <summary>
    /// A fresh database holding only what <see cref="WorkforceDatabase.MigrateAsync"/> leaves (the workforce schema), for
    /// tests that insert a hand-written dataset: migrated once into a template, then copied like the seeded ones.
    /// </summary>
    public Task<string> CreateMigratedDatabaseAsync(string purpose) =>
        CopyOfTemplateAsync(purpose, "template_schema", WorkforceDatabase.MigrateAsync);

    /// <summary>A copy of <paramref name="template"/>, which is created, filled and frozen on first use.</summary>
    private async Task<string> CopyOfTemplateAsync(string purpose, string template, Func<string, Task> fill)
    {
        await _templates.GetOrAdd(template, _ => new(async () =>
        {
            await Postgres.CreateDatabaseAsync(template);
            await fill(Postgres.ConnectionStringFor(template));
            await Postgres.FreezeAsTemplateAsync(template);
        })).Value;
        var name = NextName(purpose);
        await Postgres.CreateDatabaseAsync(name, template);
        return Postgres.ConnectionStringFor(name);
    }

    private string NextName(string purpose) =>
        $"t{Interlocked.Increment(ref _databaseCounter)}_{new string([.. purpose.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit)])}";

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        await _logFile.DisposeAsync();
        TestDirectories.TryDelete(RootDirectory);
    }
}

/// <summary>Server settings for tests: durability off (a crashed test run loses nothing of value), free ports.</summary>
public static class TestServers
{
    public static PostgresServerOptions PostgresOptions(string dataDirectory) => new()
    {
        DataDirectory = dataDirectory,
        Password = "test-" + Guid.NewGuid().ToString("N")[..12],
        Port = FreePort.Next(),
        Settings = new Dictionary<string, string>
        {
            ["fsync"] = "off",
            ["synchronous_commit"] = "off",
            ["full_page_writes"] = "off",
            ["max_connections"] = "1000",
            // Every statement's predicates, so advisor tests see pg_qualstats data after a handful of runs.
            ["pg_qualstats.sample_rate"] = "1",
        },
    };

    public static RedisServerOptions RedisOptions(string workingDirectory) => new()
    {
        Password = "test-" + Guid.NewGuid().ToString("N")[..12],
        Port = FreePort.Next(),
        WorkingDirectory = workingDirectory,
    };
}

public static class TestDirectories
{
    /// <summary>The repository's root (the folder holding AspirePerf.sln), found upward from the test assembly.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Where screenshots and other test artefacts go (CI uploads it).</summary>
    public static string TestResults => Path.Combine(RepositoryRoot, "artifacts", "test-results");

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AspirePerf.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"AspirePerf.sln not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>A temp folder the postgres account can traverse (tests run as root on CI; the server runs as postgres).</summary>
    public static string CreateTraversable(string prefix)
    {
        var path = Directory.CreateTempSubdirectory(prefix + "-").FullName;
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        return path;
    }

    public static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the OS to clean; a leftover temp folder must not fail a test run.
        }
    }
}
