using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace AspirePerf.Bench;

/// <summary>
/// Measures the workload as a client sees it: the seed marker's seeding time, then every registered query run
/// sequentially with its defaults. Reports the server's execution time (database and materialisation) and the
/// client's wall time, median of the runs after warm-up. Prints a Markdown table for docs/workload.md.
/// </summary>
public static class WorkloadBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var runs = Options.Int(args, "--runs", 5);
        var warmup = Options.Int(args, "--warmup", 1);
        var operatorKey = Options.Get(args, "--operator-key") ?? "dev-operator-key-not-for-production";
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(5) };

        using var workload = JsonDocument.Parse(await http.GetStringAsync("/api/v1/system/workload"));
        var w = workload.RootElement;
        Console.WriteLine($"Seeded: seed {w.GetProperty("seed")}, scale {w.GetProperty("scale").GetInt32():N0} employment rows, " +
            $"{w.GetProperty("rows").GetInt64():N0} rows in all, {w.GetProperty("seedingMs").GetDouble() / 1000:0.0} s, " +
            $"{w.GetProperty("rowsPerSecond").GetDouble():N0} rows/s");
        Console.WriteLine();

        using var registry = JsonDocument.Parse(await http.GetStringAsync("/api/v1/queries"));
        Console.WriteLine($"| query | kind | rows | server ms (median) | min | max | client ms (median) |");
        Console.WriteLine($"|---|---|---:|---:|---:|---:|---:|");
        foreach (var (id, kind, url) in RegistryUrls(registry))
        {
            var server = new List<double>();
            var client = new List<double>();
            var rows = 0;
            for (var i = 0; i < warmup + runs; i++)
            {
                var run = await RunUncachedAsync(http, url, operatorKey);
                if (i >= warmup)
                {
                    server.Add(run.ServerMs);
                    client.Add(run.ClientMs);
                    rows = run.Rows;
                }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| `{id}` | {kind} | {rows} | {Median(server):0.0} | {server.Min():0.0} | {server.Max():0.0} | {Median(client):0.0} |"));
        }
        return 0;
    }

    /// <summary>
    /// Every registered query's URL with its defaults; required parameters get their example, or 1 without
    /// <paramref name="examples"/> (every required parameter today is an id).
    /// </summary>
    public static IEnumerable<(string Id, string Kind, string Url)> RegistryUrls(JsonDocument registry, bool examples = false)
    {
        ArgumentNullException.ThrowIfNull(registry);
        foreach (var query in registry.RootElement.EnumerateArray())
        {
            var id = query.GetProperty("id").GetString()!;
            var parameters = string.Join('&', query.GetProperty("parameters").EnumerateArray()
                .Where(p => p.GetProperty("required").GetBoolean())
                .Select(p => $"{p.GetProperty("name").GetString()}={(examples && p.TryGetProperty("example", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetRawText() : "1")}"));
            yield return (id, query.GetProperty("kind").GetString()!, $"/api/v1/queries/{id}{(parameters.Length > 0 ? "?" + parameters : "")}");
        }
    }

    /// <summary>One uncached run: an operator's no-cache makes the API recompute on the database.</summary>
    public static async Task<(double ServerMs, double ClientMs, int Rows)> RunUncachedAsync(HttpClient http, string url, string operatorKey)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoCache = true };
        request.Headers.Add("X-Api-Key", operatorKey);
        var started = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var wall = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var serverMs = double.Parse(response.Headers.GetValues("X-Exec-Time").Single(), System.Globalization.CultureInfo.InvariantCulture);
        return (serverMs, wall, body.GetProperty("rowCount").GetInt32());
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

}
