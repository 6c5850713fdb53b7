using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AspirePerf.TestSupport.Servers;

/// <summary>
/// A child process whose output lines are prefixed with its resource name and which is stopped with a signal
/// (SIGTERM, or SIGINT for PostgreSQL's fast shutdown) before being killed. .NET can only send SIGKILL itself,
/// hence the one P/Invoke.
/// </summary>
public sealed partial class ManagedProcess : IAsyncDisposable
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private readonly Process _process;
    private readonly TextWriter _log;
    private readonly List<string> _recentLines = [];
    private readonly Lock _linesLock = new();

    private ManagedProcess(string name, Process process, TextWriter log)
    {
        Name = name;
        _process = process;
        _log = log;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>The last lines the process wrote, for error messages when it dies early.</summary>
    public string RecentOutput
    {
        get
        {
            lock (_linesLock)
            {
                return string.Join(Environment.NewLine, _recentLines);
            }
        }
    }

    public static ManagedProcess Start(
        string name,
        string fileName,
        IEnumerable<string> arguments,
        TextWriter log,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var managed = new ManagedProcess(name, process, log);
        process.OutputDataReceived += (_, e) => managed.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => managed.OnLine(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"{name}: {fileName} did not start.");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_linesLock)
        {
            _recentLines.Add(line);
            if (_recentLines.Count > 40)
            {
                _recentLines.RemoveAt(0);
            }
        }
        _log.WriteLine($"[{Name}] {line}");
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Sends <paramref name="signal"/>, waits up to <paramref name="grace"/>, then kills the process.</summary>
    public async Task StopAsync(int signal = SigTerm, TimeSpan? grace = null)
    {
        if (_process.HasExited)
        {
            return;
        }
        _ = Kill(_process.Id, signal);
        using var timeout = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _log.WriteLine($"[{Name}] did not stop within {(grace ?? TimeSpan.FromSeconds(15)).TotalSeconds:0} s; killing it");
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    /// <summary>Sends a POSIX signal; false when the process is already gone.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
