using System.Text.Json;
using AspirePerf.TestSupport;

namespace AspirePerf.AppHost.Tests;

/// <summary>The Grafana dashboard the container mode provisions (eng/grafana/dashboards/aspireperf.json), read as data.</summary>
public static class GrafanaDashboard
{
    public static string Directory => Path.Combine(TestDirectories.RepositoryRoot, "eng", "grafana");

    public static JsonDocument Read() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "dashboards", "aspireperf.json")));

    /// <summary>Every query of every panel with Grafana's interval variables replaced by a fixed range, as Prometheus would receive it.</summary>
    public static IReadOnlyList<(string Panel, string Expression)> Queries()
    {
        using var dashboard = Read();
        return [.. dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.GetProperty("type").GetString() != "row")
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (
                p.GetProperty("title").GetString()!,
                t.GetProperty("expr").GetString()!.Replace("$__rate_interval", "1m", StringComparison.Ordinal))))];
    }
}
