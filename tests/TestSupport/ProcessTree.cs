using System.Globalization;

namespace AspirePerf.TestSupport;

/// <summary>Reads the process tree from /proc, to prove a host leaves no descendant behind.</summary>
public static class ProcessTree
{
    public sealed record ProcessInfo(int Pid, int ParentPid, string Name);

    public static IReadOnlyList<ProcessInfo> Descendants(int rootPid)
    {
        var all = Snapshot();
        var result = new List<ProcessInfo>();
        var frontier = new Queue<int>([rootPid]);
        while (frontier.TryDequeue(out var parent))
        {
            foreach (var child in all.Where(p => p.ParentPid == parent))
            {
                result.Add(child);
                frontier.Enqueue(child.Pid);
            }
        }
        return result;
    }

    /// <summary>
    /// Every process an Aspire AppHost runs: its own descendants, and those of the orchestrator it started, which
    /// detaches (<c>dcp start-apiserver --detach</c>) and names the AppHost in its <c>--monitor &lt;pid&gt;</c> argument.
    /// </summary>
    public static IReadOnlyList<ProcessInfo> AppHostProcesses(int appHostPid)
    {
        var monitor = $"--monitor {appHostPid.ToString(CultureInfo.InvariantCulture)} ";
        var orchestrators = Snapshot().Where(p => CommandLine(p.Pid).Contains(monitor, StringComparison.Ordinal)).ToList();
        return [.. Descendants(appHostPid).Concat(orchestrators).Concat(orchestrators.SelectMany(o => Descendants(o.Pid))).DistinctBy(p => p.Pid)];
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ') + " ";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public static bool IsAlive(ProcessInfo process)
    {
        // Same pid and same name: a recycled pid of an unrelated process does not count as a survivor.
        var current = Read(process.Pid);
        return current is not null && current.Name == process.Name;
    }

    private static List<ProcessInfo> Snapshot() =>
        [.. Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? Read(pid) : null)
            .OfType<ProcessInfo>()];

    private static ProcessInfo? Read(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split at the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            var name = stat[(stat.IndexOf('(') + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            if (fields[0] == "Z")
            {
                return null;
            }
            return new ProcessInfo(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
