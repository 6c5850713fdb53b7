using System.Net.Sockets;
using AspirePerf.AppHost.Infrastructure;
using System.Text;

namespace AspirePerf.TestSupport.Servers;

public sealed record RedisServerOptions
{
    public required string Password { get; init; }

    public int Port { get; init; } = 56379;

    /// <summary>When set, the only folder searched for redis-server.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>Working folder of the server (no persistence is configured, as in Aspire's default container).</summary>
    public required string WorkingDirectory { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>A redis-server process on a loopback port with a password, as Aspire's Redis resource runs it.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly RedisServerOptions _options;
    private readonly TextWriter _log;
    private readonly string _binary;
    private ManagedProcess? _process;

    private RedisServer(RedisServerOptions options, TextWriter log, string binary)
    {
        _options = options;
        _log = log;
        _binary = binary;
    }

    public int Port => _options.Port;

    public string Password => _options.Password;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The connection string in the shape Aspire's RedisResource produces: <c>host:port,password=…</c>.</summary>
    public string ConnectionString => $"localhost:{Port},password={Password}";

    public static async Task<RedisServer> StartAsync(RedisServerOptions options, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var binary = ServerBinaries.RedisServer(options.BinDirectory);
        var server = new RedisServer(options, log, binary);
        await server.StartAsync(cancellationToken);
        return server;
    }

    /// <summary>Starts the process again after <see cref="StopAsync"/> (tests use this to simulate an outage).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            return;
        }
        Directory.CreateDirectory(_options.WorkingDirectory);
        string[] args = ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--requirepass", Password,
            .. InfrastructureResources.RedisServerArguments(_options.WorkingDirectory)];
        _process = ManagedProcess.Start("cache", _binary, args, _log, workingDirectory: _options.WorkingDirectory);
        await WaitUntilPongAsync(cancellationToken);
    }

    private async Task WaitUntilPongAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.StartTimeout;
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException(
                    $"redis-server exited with code {_process.ExitCode} while starting on port {Port}:{Environment.NewLine}{_process.RecentOutput}");
            }
            if (await PingAsync(cancellationToken))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"redis-server did not answer PING on port {Port} within {_options.StartTimeout.TotalSeconds:0} s.");
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>AUTH then PING over a raw socket (RESP inline commands): no client library needed to wait for readiness.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"AUTH {Password}\r\nPING\r\n"), cancellationToken);
            var buffer = new byte[256];
            var received = new StringBuilder();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            while (!received.ToString().Contains("+PONG", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return false;
                }
                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                if (received.ToString().Contains("-ERR", StringComparison.Ordinal) || received.ToString().Contains("-LOADING", StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            await process.StopAsync(ManagedProcess.SigTerm, TimeSpan.FromSeconds(10));
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
