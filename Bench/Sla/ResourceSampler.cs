using System.Globalization;

namespace AspirePerf.Bench.Sla;

/// <summary>One process group's use during a scenario: CPU in percent of one core (mean and peak of 1 s samples) and memory.</summary>
/// <param name="MemoryMbMax">Peak proportional set size (PSS) of the group, MB: shared memory counted once.</param>
public sealed record ProcessUsage(string Name, int Processes, double CpuPercentMean, double CpuPercentMax, double MemoryMbMax);

/// <summary>Npgsql pool connections in use, summed over the scraped services (<c>db_client_connections_usage{state="used"}</c>).</summary>
public sealed record PoolUsage(double UsedMean, double UsedMax, IReadOnlyList<string> Sources);

public sealed record ResourceUsage(IReadOnlyList<ProcessUsage> Processes, PoolUsage? Pool);

/// <summary>
/// Samples, once a second while a scenario runs, the CPU and memory of each service process and of PostgreSQL and
/// Redis (from <c>/proc</c>, by command line), and the services' connection pools (from their <c>/metrics</c>).
/// </summary>
public sealed class ResourceSampler : IAsyncDisposable
{
    /// <summary>
    /// Group name → how to recognise its processes: services by the program they run (every instance counts), PostgreSQL
    /// and Redis as the server listening on the system's port and its child processes (other servers on the machine,
    /// such as a test suite's, are left out).
    /// </summary>
    public (string Name, Func<int, string, string, bool> Matches)[] Groups { get; }

    /// <summary>Whether a command line runs that program (its apphost or its dll), not merely mentions it (a test project's name starts the same).</summary>
    private static bool Runs(string cmdline, string program) =>
        cmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2).Any(arg => Path.GetFileName(arg) is var file && (file == program || file == program + ".dll"));

    private readonly HttpClient _http;
    private readonly IReadOnlyList<Uri> _metrics;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Dictionary<string, List<(double Cpu, double MemoryMb, int Count)>> _samples = [];
    private readonly List<double> _poolUsed = [];

    public ResourceSampler(HttpClient http, IReadOnlyList<Uri> metrics, int postgresPort = 55432, int redisPort = 56379)
    {
        (_http, _metrics) = (http, metrics);
        var postgres = ServerTree(postgresPort);
        var redis = ServerTree(redisPort);
        Groups =
        [
            ("apiservice", (_, _, cmdline) => Runs(cmdline, "AspirePerf.ApiService")),
            ("worker", (_, _, cmdline) => Runs(cmdline, "AspirePerf.Worker")),
            ("dashboard", (_, _, cmdline) => Runs(cmdline, "AspirePerf.Dashboard.Web")),
            ("postgres", (pid, comm, _) => comm == "postgres" && postgres(pid)),
            ("redis", (pid, comm, _) => comm.StartsWith("redis-server", StringComparison.Ordinal) && redis(pid)),
        ];
        _loop = Task.Run(SampleAsync);
    }

    /// <summary>Whether a pid is the server listening on <paramref name="port"/> or one of its children (PostgreSQL's backends).</summary>
    private static Func<int, bool> ServerTree(int port)
    {
        int server;
        try
        {
            server = ProcessStats.ListeningPid(port);
        }
        catch (InvalidOperationException)
        {
            return _ => false; // nothing (or several) listening there: not sampled
        }
        return pid => pid == server || ParentPid(pid) == server;
    }

    private static int ParentPid(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Proportional set size: shared pages (PostgreSQL's shared buffers) split among the processes sharing them, so sums are true.</summary>
    private static long PssKb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith("Pss:", StringComparison.Ordinal))
            {
                return long.Parse(line["Pss:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return ProcessStats.RssKb(pid);
    }

    private async Task SampleAsync()
    {
        var previous = CpuTimes();
        var at = DateTime.UtcNow;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var now = DateTime.UtcNow;
            var current = CpuTimes();
            var wall = (now - at).TotalMilliseconds;
            foreach (var (group, processes) in current)
            {
                var cpu = processes.Sum(p => previous.TryGetValue(group, out var before) && before.TryGetValue(p.Key, out var then) ? p.Value.CpuMs - then.CpuMs : 0);
                lock (_samples)
                {
                    (_samples.TryGetValue(group, out var list) ? list : _samples[group] = []).Add((cpu / wall * 100, processes.Sum(p => p.Value.MemoryKb) / 1024.0, processes.Count));
                }
            }
            (previous, at) = (current, now);
            if (await PoolUsedAsync() is { } used)
            {
                lock (_poolUsed)
                {
                    _poolUsed.Add(used);
                }
            }
        }
    }

    private Dictionary<string, Dictionary<int, (double CpuMs, long MemoryKb)>> CpuTimes()
    {
        var groups = new Dictionary<string, Dictionary<int, (double, long)>>(StringComparer.Ordinal);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var comm = File.ReadAllText($"{directory}/comm").Trim();
                var cmdline = File.ReadAllText($"{directory}/cmdline").Replace('\0', ' ');
                var group = Groups.FirstOrDefault(g => g.Matches(pid, comm, cmdline)).Name;
                if (group is null)
                {
                    continue;
                }
                (groups.TryGetValue(group, out var members) ? members : groups[group] = [])[pid] =
                    (ProcessStats.CpuTime(pid).TotalMilliseconds, PssKb(pid));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // The process ended between listing and reading, or hides its details.
            }
        }
        return groups;
    }

    private async Task<double?> PoolUsedAsync()
    {
        double? total = null;
        foreach (var uri in _metrics)
        {
            try
            {
                var text = await _http.GetStringAsync(uri, _stop.Token);
                total = (total ?? 0) + PoolUsed(text);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // That service does not answer (not running here): its pool is left out.
            }
        }
        return total;
    }

    /// <summary>Connections in use in a Prometheus exposition: every <c>db_client_connections_usage</c> series with state="used".</summary>
    public static double PoolUsed(string exposition)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        return exposition.Split('\n')
            .Where(l => l.StartsWith("db_client_connections_usage{", StringComparison.Ordinal) && l.Contains("state=\"used\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
    }

    public async Task<ResourceUsage> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        lock (_samples)
        {
            var processes = _samples.Where(s => s.Value.Count > 0).OrderBy(s => Array.FindIndex(Groups, g => g.Name == s.Key))
                .Select(s => new ProcessUsage(s.Key, s.Value.Max(v => v.Count), Math.Round(s.Value.Average(v => v.Cpu), 1),
                    Math.Round(s.Value.Max(v => v.Cpu), 1), Math.Round(s.Value.Max(v => v.MemoryMb), 1))).ToList();
            lock (_poolUsed)
            {
                return new ResourceUsage(processes, _poolUsed.Count == 0 ? null
                    : new PoolUsage(Math.Round(_poolUsed.Average(), 2), _poolUsed.Max(), [.. _metrics.Select(m => m.ToString())]));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }
        _stop.Dispose();
    }
}
