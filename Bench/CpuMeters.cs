using System.Globalization;
using Npgsql;

namespace AspirePerf.Bench;

/// <summary>
/// The machine's CPU time from <c>/proc/stat</c>'s first line: every process, this one included. Busy cores over a run
/// say how much of the machine it used; <c>null</c> off Linux.
/// </summary>
internal readonly record struct MachineCpu(long Busy, long Total)
{
    public static MachineCpu? Read()
    {
        if (!File.Exists("/proc/stat"))
        {
            return null;
        }
        // cpu  user nice system idle iowait irq softirq steal ...: idle and iowait are the machine waiting.
        var ticks = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(t => long.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        var total = ticks.Sum();
        return new MachineCpu(total - ticks[3] - ticks[4], total);
    }

    public static double? BusyCoresSince(MachineCpu? start) => (start, Read()) is ({ } a, { } b) && b.Total > a.Total
        ? (double)(b.Busy - a.Busy) / (b.Total - a.Total) * Environment.ProcessorCount
        : null;
}

/// <summary>
/// The CPU time of a PostgreSQL server running on this machine, from <c>/proc</c>: its postmaster's own and its reaped
/// children's (parallel workers and ended backends, which the postmaster waits for) plus every live child's. Unlike the
/// machine's busy time it leaves out every other process. Read between runs, when no parallel worker is alive, so none
/// is counted both live and reaped.
/// </summary>
internal sealed class PostgresServerCpu(int postmaster)
{
    // USER_HZ: the unit of /proc's times, 100 on every Linux this runs on.
    private const double TicksPerSecond = 100;

    /// <summary>The server behind <paramref name="dataSource"/> when it runs here (its backend's parent is a postgres process), else null.</summary>
    public static async Task<PostgresServerCpu?> FindAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT pg_backend_pid()");
        var backend = (int)(await command.ExecuteScalarAsync())!;
        if (Stat(backend) is not { } stat || !File.Exists($"/proc/{stat.Parent}/comm")
            || File.ReadAllText($"/proc/{stat.Parent}/comm").Trim() is not ("postgres" or "postmaster"))
        {
            return null;
        }
        return new PostgresServerCpu(stat.Parent);
    }

    public double ReadSeconds()
    {
        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Stat(pid) is { } child && child.Parent == postmaster)
            {
                ticks += child.Own;
            }
        }
        var server = Stat(postmaster) ?? throw new InvalidOperationException($"PostgreSQL's postmaster (process {postmaster}) is gone");
        return (ticks + server.Own + server.Children) / TicksPerSecond;
    }

    public double BusyCoresSince(double startSeconds, double wallMs) => (ReadSeconds() - startSeconds) / (wallMs / 1000);

    /// <summary>Fields of /proc/[pid]/stat after the command name (which may hold spaces): state, ppid, …, utime, stime, cutime, cstime.</summary>
    private static (int Parent, long Own, long Children)? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null; // gone between listing and reading
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        long F(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture);
        return ((int)F(1), F(11) + F(12), F(13) + F(14));
    }
}
