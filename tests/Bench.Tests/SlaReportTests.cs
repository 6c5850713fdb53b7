using System.Text.Json;
using AspirePerf.Bench.Sla;
using HdrHistogram;

namespace AspirePerf.Bench.Tests;

/// <summary>A run's four outputs and the SLA verdict.</summary>
public sealed class SlaReportTests
{
    internal static SlaRunResult Run(int run, double p95, double errorRate)
    {
        var latency = new LatencySummary(100, p95 / 2, p95 * 0.9, p95, p95 * 2, p95 * 3, p95 * 4, p95 / 2);
        var scenario = new ScenarioResult("simple", "open", 10, 0, 10, 100, 100, 100, 0, 0, 10, 10, errorRate, new Dictionary<string, long> { ["200"] = 100 },
            latency, latency, [new EndpointResult("lookup", latency, latency, new Dictionary<string, long> { ["200"] = 100 }, 0)],
            new Dictionary<string, double> { ["p95"] = 50 }, 0.01, new SlaVerdict(true, []), null);
        return new SlaRunResult(SlaRunResult.CurrentSchema, DateTimeOffset.UnixEpoch, "http://localhost:5380/", 1, 42, run, [scenario]);
    }

    [Fact]
    public void Targets_are_checked_against_the_intended_start_latency_and_each_breach_is_named()
    {
        var scenario = new SlaScenario("s") { Targets = new() { ["p50"] = 1000, ["p99"] = 1 }, Requests = [new SlaRequest("r") { Path = "/" }] };
        var recording = new ScenarioRecording(scenario) { Duration = TimeSpan.FromSeconds(1) };
        var endpoint = recording.Endpoint("r");
        foreach (var ms in new[] { 5, 6, 7, 50 })
        {
            endpoint.Latency.RecordValue(ms * 1000);
            endpoint.ServiceTime.RecordValue(ms * 1000);
            endpoint.Outcomes.AddOrUpdate("200", 1, (_, n) => n + 1);
            recording.CountSent();
            recording.CountCompleted();
        }

        var result = ScenarioResult.From(recording, null);

        Assert.False(result.Sla.Holds);
        var breach = Assert.Single(result.Sla.Breaches);
        Assert.StartsWith("p99 50.0 ms > 1 ms", breach, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_writes_json_markdown_a_percentile_distribution_and_a_chart()
    {
        var directory = Directory.CreateTempSubdirectory("sla-report-").FullName;
        var run = Run(1, 42, 0);
        var histogram = new LongHistogram(3_600_000_000, 3);
        for (var i = 1; i <= 1000; i++)
        {
            histogram.RecordValue(i * 100);
        }

        SlaReport.WriteJson(Path.Combine(directory, "result.json"), run);
        File.WriteAllText(Path.Combine(directory, "summary.md"), SlaReport.Markdown(run));
        SlaReport.WriteDistribution(Path.Combine(directory, "simple.hgrm"), histogram);
        SlaReport.WriteChart(Path.Combine(directory, "latency.png"), [("simple", histogram)], "test");

        var json = JsonSerializer.Deserialize<SlaRunResult>(File.ReadAllText(Path.Combine(directory, "result.json")), SlaScenarioFile.Json)!;
        Assert.Equal(42, json.Scenarios[0].Latency.P95);
        Assert.Contains("| simple | open |", File.ReadAllText(Path.Combine(directory, "summary.md")), StringComparison.Ordinal);
        var distribution = File.ReadAllText(Path.Combine(directory, "simple.hgrm"));
        Assert.Contains("Value     Percentile TotalCount 1/(1-Percentile)", distribution, StringComparison.Ordinal);
        Assert.Contains("#[Max     =      100.031, Total count    =         1000]", distribution, StringComparison.Ordinal); // 100,000 µs in ms, at 3 digits
        var png = File.ReadAllBytes(Path.Combine(directory, "latency.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void Pool_usage_is_read_from_the_used_connections_series()
    {
        const string exposition = """
            # TYPE db_client_connections_usage gauge
            db_client_connections_usage{pool_name="a",state="idle"} 7
            db_client_connections_usage{pool_name="a",state="used"} 3
            db_client_connections_usage{pool_name="b",state="used"} 2 1700000000000
            db_client_connections_max{pool_name="a"} 100
            """;

        Assert.Equal(5, ResourceSampler.PoolUsed(exposition));
    }
}
