using System.Security.Cryptography;
using System.Text.Json;
using AspirePerf.AppHost.Local.Launcher;

namespace AspirePerf.AppHost.Local;

/// <summary>
/// The same topology as AppHost/AppHost.cs, run from local binaries: postgres (database workforce), cache, then
/// worker, apiservice and dashboard, each started once what it waits for is healthy, stopped in reverse order.
/// </summary>
public sealed class LocalTopology(LocalAppHostOptions options, TextWriter log) : IAsyncDisposable
{
    public const string WorkforceDatabase = "workforce";

    private readonly List<Func<Task>> _stopInReverse = [];
    private PostgresServer? _postgres;
    private RedisServer? _cache;

    public ProjectResource Worker { get; } = new("worker", "AspirePerf.Worker", Loopback(options.Ports.Worker));

    public ProjectResource ApiService { get; } = new("apiservice", "AspirePerf.ApiService", Loopback(options.Ports.ApiService));

    public ProjectResource Dashboard { get; } = new("dashboard", "AspirePerf.Dashboard.Web", Loopback(options.Ports.Dashboard));

    /// <summary>The one-line message naming a missing server binary and its package, or null when both are installed.</summary>
    public static string? FindMissingBinary(LocalAppHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (BinaryLocator.Find("postgres", options.PostgresBinDirectory, BinaryLocator.PostgresDirectories()) is null)
        {
            return BinaryLocator.MissingMessage("postgres", PostgresServer.Package);
        }
        if (BinaryLocator.Find("redis-server", options.RedisBinDirectory, RedisServer.WellKnownDirectories) is null)
        {
            return BinaryLocator.MissingMessage("redis-server", RedisServer.Package);
        }
        return null;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var dataDirectory = options.DataDirectory!;
        CreateTraversableDirectory(dataDirectory);
        var secrets = await LocalSecrets.LoadOrCreateAsync(Path.Combine(dataDirectory, "secrets.json"), cancellationToken);
        var timeout = TimeSpan.FromSeconds(options.HealthTimeoutSeconds);

        log.WriteLine($"[apphost] data folder {dataDirectory}");
        _postgres = await PostgresServer.StartAsync(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(dataDirectory, "postgres"),
            Password = secrets.PostgresPassword,
            Port = options.Ports.Postgres,
            BinDirectory = options.PostgresBinDirectory,
            Settings = options.PostgresSettings,
        }, log, cancellationToken);
        _stopInReverse.Add(_postgres.StopAsync);
        await _postgres.CreateDatabaseAsync(WorkforceDatabase, cancellationToken);
        log.WriteLine($"[apphost] postgres is ready on localhost:{_postgres.Port} (database {WorkforceDatabase}; preloaded {string.Join(", ", _postgres.PreloadedLibraries)})");

        _cache = await RedisServer.StartAsync(new RedisServerOptions
        {
            Password = secrets.RedisPassword,
            Port = options.Ports.Cache,
            BinDirectory = options.RedisBinDirectory,
            WorkingDirectory = Path.Combine(dataDirectory, "redis"),
        }, log, cancellationToken);
        _stopInReverse.Add(_cache.StopAsync);
        log.WriteLine($"[apphost] cache is ready on localhost:{_cache.Port}");

        // worker: references postgres and cache; runs migrations and seeding, healthy when done.
        await StartProjectAsync(Worker, env => env.WithPostgresDatabase(WorkforceDatabase, _postgres).WithRedis("cache", _cache), timeout, cancellationToken);
        // apiservice: references postgres, cache and worker; waits for the worker.
        await StartProjectAsync(ApiService, env => env.WithPostgresDatabase(WorkforceDatabase, _postgres).WithRedis("cache", _cache)
            .WithProjectReference(Worker), timeout, cancellationToken);
        // dashboard: references apiservice; external HTTP endpoint.
        await StartProjectAsync(Dashboard, env => env.WithProjectReference(ApiService), timeout, cancellationToken);
    }

    private async Task StartProjectAsync(ProjectResource project, Func<AspireEnvironment, AspireEnvironment> references, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var env = references(AspireEnvironment.ForProject(project.Name, project.HttpEndpoint, options.Environment, options.OtlpEndpoint))
            .WithEnvironment(options.ExtraEnvironment.GetValueOrDefault(project.Name) ?? []);
        var process = project.Start(env.Variables, log, typeof(LocalTopology).Assembly);
        _stopInReverse.Add(() => process.StopAsync(ManagedProcess.SigTerm, TimeSpan.FromSeconds(15)));
        log.WriteLine($"[apphost] started {project.Name} (pid {process.Id}) on {project.HttpEndpoint}");
        await project.WaitForHealthyAsync(timeout, log, cancellationToken);
        log.WriteLine($"[apphost] {project.Name} is healthy");
    }

    public void PrintUrls()
    {
        log.WriteLine("");
        log.WriteLine("[apphost] AspirePerf is running. Press Ctrl+C to stop everything.");
        log.WriteLine($"[apphost]   dashboard      {Dashboard.HttpEndpoint}");
        log.WriteLine($"[apphost]   api reference  {new Uri(ApiService.HttpEndpoint, "/scalar/v1")}");
        log.WriteLine($"[apphost]   openapi        {new Uri(ApiService.HttpEndpoint, "/openapi/v1.json")}");
        foreach (var project in new[] { ApiService, Worker, Dashboard })
        {
            log.WriteLine($"[apphost]   {project.Name,-14} {project.HttpEndpoint}  (health {new Uri(project.HttpEndpoint, "/health")}, metrics {new Uri(project.HttpEndpoint, "/metrics")})");
        }
        log.WriteLine($"[apphost]   postgres       {_postgres?.ConnectionStringFor(WorkforceDatabase).Replace(_postgres.Password, "<password in .data/secrets.json>", StringComparison.Ordinal)}");
        log.WriteLine($"[apphost]   cache          localhost:{_cache?.Port}");
    }

    /// <summary>Stops every child in reverse start order; each stop is attempted even if an earlier one fails.</summary>
    public async ValueTask DisposeAsync()
    {
        for (var i = _stopInReverse.Count - 1; i >= 0; i--)
        {
            try
            {
                await _stopInReverse[i]();
            }
            catch (Exception ex)
            {
                log.WriteLine($"[apphost] stopping a resource failed: {ex.Message}");
            }
        }
        _stopInReverse.Clear();
        log.WriteLine("[apphost] all resources stopped");
    }

    private static Uri Loopback(int port) => new($"http://localhost:{port}");

    // The postgres account must be able to traverse to its cluster folder when we run as root.
    private static void CreateTraversableDirectory(string path)
    {
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        }
    }
}

/// <summary>Generated passwords, kept in the git-ignored data folder so a second start reuses the cluster.</summary>
public sealed record LocalSecrets(string PostgresPassword, string RedisPassword)
{
    public static async Task<LocalSecrets> LoadOrCreateAsync(string path, CancellationToken cancellationToken)
    {
        if (File.Exists(path))
        {
            await using var read = File.OpenRead(path);
            var existing = await JsonSerializer.DeserializeAsync<LocalSecrets>(read, cancellationToken: cancellationToken);
            if (existing is not null)
            {
                return existing;
            }
        }
        var secrets = new LocalSecrets(NewPassword(), NewPassword());
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(secrets), cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return secrets;
    }

    // Letters and digits only: the value goes into connection strings and URIs unescaped by some clients.
    private static string NewPassword() => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 24);
}
