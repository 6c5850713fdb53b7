using System.Globalization;
using System.Net.Http.Json;
using HdrHistogram;

namespace AspirePerf.Bench;

/// <summary>
/// Query-endpoint throughput with request profiling on and off, side by side in one run: profiling is switched at run
/// time (an operator's <c>PUT /api/v1/perf/profiling</c>) between equal load slices, alternating the order every
/// round so drift in the machine's speed affects both alike. Reports the median of each state's slices.
/// </summary>
public static class ProfilingHttpBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var query = Options.Get(args, "--query") ?? "wage-percentiles";
        var connections = Options.Int(args, "--connections", 16);
        var seconds = Options.Int(args, "--duration", 5);
        var rounds = Options.Int(args, "--rounds", 4);
        var operatorKey = Options.Get(args, "--operator-key") ?? "dev-operator-key-not-for-production";
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections };
        using var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromMinutes(1) };
        var url = $"/api/v1/queries/{query}";
        (await http.GetAsync(url)).Dispose();

        var results = new Dictionary<bool, List<(double Rps, LongHistogram Histogram)>> { [true] = [], [false] = [] };
        await SetAsync(http, operatorKey, true);
        await CacheHttpBenchmark.LoadForAsync(http, url, connections, 3, 0);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var enabled in round % 2 == 0 ? new[] { false, true } : [true, false])
            {
                await SetAsync(http, operatorKey, enabled);
                var (rps, histogram) = await CacheHttpBenchmark.LoadForAsync(http, url, connections, 1, seconds);
                results[enabled].Add((rps, histogram));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}, profiling {(enabled ? "on " : "off")}: {rps:N0} req/s"));
            }
        }
        await SetAsync(http, operatorKey, true);

        Console.WriteLine();
        Console.WriteLine($"| profiling | slices | median req/s | p50 ms (median slice) | p99 ms (median slice) |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var enabled in new[] { false, true })
        {
            var slices = results[enabled].OrderBy(r => r.Rps).ToList();
            var median = slices[slices.Count / 2];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(enabled ? "on" : "off")} | {slices.Count} | {median.Rps:N0} | {median.Histogram.GetValueAtPercentile(50) / 1000.0:0.000} | {median.Histogram.GetValueAtPercentile(99) / 1000.0:0.000} |"));
        }
        var ratio = results[true].Select(r => r.Rps).Order().ElementAt(rounds / 2) / results[false].Select(r => r.Rps).Order().ElementAt(rounds / 2);
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"throughput with profiling on is {ratio:0.000}× off (target ≥ 0.95)"));
        return 0;
    }

    private static async Task SetAsync(HttpClient http, string operatorKey, bool enabled)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1/perf/profiling") { Content = JsonContent.Create(new { enabled }) };
        request.Headers.Add("X-Api-Key", operatorKey);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }
}
