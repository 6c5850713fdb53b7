using System.Text.RegularExpressions;

namespace AspirePerf.AppHost.Tests;

/// <summary>The Grafana provisioning: one Prometheus data source, and a dashboard with the classic rows whose panels all use it.
/// (Its queries are run against the real Prometheus in <see cref="PrometheusAlertTests"/>.)</summary>
public sealed partial class GrafanaProvisioningTests
{
    [Fact]
    public void The_dashboard_has_the_classic_rows_in_order()
    {
        using var dashboard = GrafanaDashboard.Read();
        var rows = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.GetProperty("type").GetString() == "row")
            .Select(p => p.GetProperty("title").GetString()!)
            .ToList();

        Assert.Collection(rows,
            r => Assert.StartsWith("Requests and latency", r, StringComparison.Ordinal),
            r => Assert.Equal("Cache", r),
            r => Assert.Equal("Database", r),
            r => Assert.Equal("Jobs", r),
            r => Assert.Equal("Analyses", r));
    }

    [Fact]
    public void Every_panel_queries_the_provisioned_prometheus_data_source_and_fits_the_grid_without_overlap()
    {
        var datasource = File.ReadAllText(Path.Combine(GrafanaDashboard.Directory, "provisioning", "datasources", "prometheus.yml"));
        var uid = DatasourceUid().Match(datasource).Groups["uid"].Value;
        Assert.Equal("aspireperf-prometheus", uid);
        Assert.Contains("url: ${PROMETHEUS_URL}", datasource, StringComparison.Ordinal);

        using var dashboard = GrafanaDashboard.Read();
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        var ids = panels.Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var cells = new HashSet<(int X, int Y)>();
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            var grid = panel.GetProperty("gridPos");
            var (x, y, w, h) = (grid.GetProperty("x").GetInt32(), grid.GetProperty("y").GetInt32(), grid.GetProperty("w").GetInt32(), grid.GetProperty("h").GetInt32());
            Assert.True(x >= 0 && w > 0 && x + w <= 24, $"{title} leaves the 24-column grid");
            for (var column = x; column < x + w; column++)
            {
                for (var line = y; line < y + h; line++)
                {
                    Assert.True(cells.Add((column, line)), $"{title} overlaps another panel at ({column}, {line})");
                }
            }
            if (panel.GetProperty("type").GetString() == "row")
            {
                continue;
            }
            Assert.Equal(uid, panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.False(string.IsNullOrWhiteSpace(panel.GetProperty("description").GetString()), $"{title} has no description");
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString())));
        }
    }

    [Fact]
    public void The_dashboards_provider_reads_the_folder_the_apphost_mounts()
    {
        var provider = File.ReadAllText(Path.Combine(GrafanaDashboard.Directory, "provisioning", "dashboards", "aspireperf.yml"));

        Assert.Contains("path: /var/lib/grafana/dashboards", provider, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(GrafanaDashboard.Directory, "dashboards", Monitoring.GrafanaResources.DashboardFile)));
    }

    [GeneratedRegex(@"uid:\s*(?<uid>\S+)")]
    private static partial Regex DatasourceUid();
}
