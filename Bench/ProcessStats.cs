using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace AspirePerf.Bench;

/// <summary>What <c>/proc</c> says about a server process on this machine: which pid listens on a port, its resident memory and CPU time.</summary>
internal static partial class ProcessStats
{
    /// <summary>The process listening on <paramref name="port"/>, from <c>ss -ltnp</c>.</summary>
    public static int ListeningPid(int port)
    {
        var start = new ProcessStartInfo("ss", ["-Hltnp", $"sport = :{port}"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var ss = Process.Start(start) ?? throw new InvalidOperationException("Could not run ss.");
        var output = ss.StandardOutput.ReadToEnd();
        ss.WaitForExit();
        var pids = PidPattern().Matches(output).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().ToArray();
        return pids.Length == 1 ? pids[0]
            : throw new InvalidOperationException($"Expected one process listening on port {port}, found {pids.Length}: pass --api-pid.\n{output}");
    }

    public static string Name(int pid) => File.ReadAllText($"/proc/{pid}/comm").Trim();

    public static long RssKb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"No VmRSS in /proc/{pid}/status.");
    }

    /// <summary>User plus system CPU time of the process so far (clock ticks of 10 ms).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name, which is in parentheses and may contain spaces: utime and stime are the 12th and 13th.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    [GeneratedRegex(@"pid=(\d+)")]
    private static partial Regex PidPattern();
}
