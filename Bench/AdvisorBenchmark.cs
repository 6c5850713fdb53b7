using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace AspirePerf.Bench;

/// <summary>
/// The index advisor end to end on the seeded workload, through the API: start from the key-only schema (advisor
/// indexes from an earlier run dropped, pg_stat_statements reset), run every registered query uncached, ask for
/// advice, apply each advised index (the API re-measures the statements it serves), run the workload again, and
/// print before / after per query. The advised indexes are dropped at the end unless --keep.
/// </summary>
public static class AdvisorBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var workforce = Options.Get(args, "--workforce");
        var runs = Options.Int(args, "--runs", 3);
        var keep = args.Contains("--keep");
        var checkDeclined = args.Contains("--check-declined");
        var operatorKey = Options.Get(args, "--operator-key") ?? "dev-operator-key-not-for-production";
        if (workforce is null)
        {
            Console.Error.WriteLine("--workforce \"<npgsql connection string>\" is required (to reset the advisor's indexes and pg_stat_statements).");
            return 2;
        }
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(30) };
        await using var database = NpgsqlDataSource.Create(workforce);

        var dropped = await DropAdvisorIndexesAsync(database);
        Console.WriteLine($"Reset: {dropped} advisor index(es) dropped, pg_stat_statements reset.");
        await using (var reset = database.CreateCommand("SELECT pg_stat_statements_reset()"))
        {
            await reset.ExecuteNonQueryAsync();
        }

        using var registry = JsonDocument.Parse(await http.GetStringAsync("/api/v1/queries"));
        var queries = WorkloadBenchmark.RegistryUrls(registry, examples: true).ToList();
        Console.WriteLine($"Workload before: {queries.Count} queries × {runs} uncached runs …");
        var before = await MeasureAsync(http, queries, runs, operatorKey);

        Console.WriteLine("Advice …");
        using var advice = JsonDocument.Parse(await http.GetStringAsync("/api/v1/perf/indexes/advice"));
        Console.WriteLine();
        Console.WriteLine("| statement (sample) | outcome | detail |");
        Console.WriteLine("|---|---|---|");
        foreach (var verdict in advice.RootElement.GetProperty("statements").EnumerateArray())
        {
            Console.WriteLine($"| {Sample(verdict)} | {verdict.GetProperty("outcome").GetString()} | {verdict.GetProperty("detail").GetString()} |");
        }
        Console.WriteLine();
        Console.WriteLine("| rank | index | verified | est. improvement | est. size | workload ms saved |");
        Console.WriteLine("|---:|---|---|---:|---:|---:|");
        var names = new List<string>();
        foreach (var (item, rank) in advice.RootElement.GetProperty("advice").EnumerateArray().Select((a, i) => (a, i + 1)))
        {
            names.Add(item.GetProperty("name").GetString()!);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {rank} | `{item.GetProperty("createStatement").GetString()}` | {item.GetProperty("verified").GetBoolean()} | {Percent(item, "improvement")} | {Size(item)} | {Number(item, "workloadMsSaved")} |"));
        }

        Console.WriteLine();
        Console.WriteLine("| index | build ms | statement (sample) | before ms | after ms | speedup |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|");
        var verdicts = new List<string>();
        foreach (var name in names)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/perf/indexes/apply") { Content = JsonContent.Create(new { index = name }) };
            request.Headers.Add("X-Api-Key", operatorKey);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                Console.WriteLine($"| `{name}` | apply failed: {(int)response.StatusCode} {body} | | | | |");
                continue;
            }
            using var applied = JsonDocument.Parse(body);
            verdicts.Add($"`{name}`: {applied.RootElement.GetProperty("verdict").GetString()}");
            foreach (var statement in applied.RootElement.GetProperty("statements").EnumerateArray())
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| `{name}` | {applied.RootElement.GetProperty("buildMs").GetDouble():0} | {Sample(statement)} | {Number(statement, "beforeMs")} | {Number(statement, "afterMs")} | {Number(statement, "speedup")}× |"));
            }
        }

        Console.WriteLine();
        verdicts.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"Workload after ({runs} uncached runs each, server ms, median):");
        var after = await MeasureAsync(http, queries, runs, operatorKey);
        Console.WriteLine();
        Console.WriteLine("| query | before ms | after ms | speedup |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var (id, _, _) in queries)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{id}` | {before[id]:0.0} | {after[id]:0.0} | {before[id] / after[id]:0.0}× |"));
        }

        if (checkDeclined)
        {
            await CheckDeclinedAsync(http, database, advice, queries, runs, operatorKey, applied: names);
        }

        if (!keep)
        {
            Console.WriteLine($"Cleanup: {await DropAdvisorIndexesAsync(database)} advisor index(es) dropped (--keep keeps them).");
        }
        return 0;
    }

    /// <summary>
    /// The advisor's refusals, checked: each declined statement's best candidate is built for real, the statement
    /// re-measured the same way, and the index dropped again.
    /// </summary>
    private static async Task CheckDeclinedAsync(HttpClient http, NpgsqlDataSource database, JsonDocument advice,
        List<(string Id, string Kind, string Url)> queries, int runs, string operatorKey, IReadOnlyCollection<string> applied)
    {
        Console.WriteLine();
        Console.WriteLine("Declined indexes, built anyway to check the refusal:");
        Console.WriteLine();
        Console.WriteLine("| query | best candidate | planned improvement | before ms | with index ms | speedup |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var verdict in advice.RootElement.GetProperty("statements").EnumerateArray())
        {
            if (verdict.GetProperty("outcome").GetString() != "no-gain"
                || !verdict.TryGetProperty("bestCandidate", out var candidate) || candidate.ValueKind != JsonValueKind.String
                || !verdict.TryGetProperty("sample", out var sample) || sample.ValueKind != JsonValueKind.String
                || queries.FirstOrDefault(q => q.Id == sample.GetString()) is not { Url: not null } query)
            {
                continue;
            }
            var create = candidate.GetString()!;
            // Without and with the index back to back, so the machine's drift over the run does not enter the ratio.
            var without = await MeasureAsync(http, [query], runs, operatorKey);
            await using (var build = database.CreateCommand(create))
            {
                build.CommandTimeout = 0;
                await build.ExecuteNonQueryAsync();
            }
            var with = await MeasureAsync(http, [query], runs, operatorKey);
            await DropAdvisorIndexesAsync(database, except: applied);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| `{query.Id}` | `{create[(create.IndexOf(" ON ", StringComparison.Ordinal) + 4)..]}` | {Percent(verdict, "bestImprovement")} | {without[query.Id]:0.0} | {with[query.Id]:0.0} | {without[query.Id] / with[query.Id]:0.00}× |"));
        }
    }

    private static async Task<Dictionary<string, double>> MeasureAsync(HttpClient http, List<(string Id, string Kind, string Url)> queries, int runs, string operatorKey)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (id, _, url) in queries)
        {
            await WorkloadBenchmark.RunUncachedAsync(http, url, operatorKey);
            var times = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                times.Add((await WorkloadBenchmark.RunUncachedAsync(http, url, operatorKey)).ServerMs);
            }
            result[id] = WorkloadBenchmark.Median(times);
        }
        return result;
    }

    /// <summary>The advisor names its indexes ix_*; the workforce schema itself has only pk_* and ak_* ones.</summary>
    private static async Task<int> DropAdvisorIndexesAsync(NpgsqlDataSource database, IReadOnlyCollection<string>? except = null)
    {
        var names = new List<string>();
        await using (var list = database.CreateCommand("SELECT indexname, quote_ident(schemaname) || '.' || quote_ident(indexname) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ix\\_%'"))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                if (except?.Contains(reader.GetString(0)) != true)
                {
                    names.Add(reader.GetString(1));
                }
            }
        }
        foreach (var name in names)
        {
            await using var drop = database.CreateCommand($"DROP INDEX CONCURRENTLY IF EXISTS {name}");
            await drop.ExecuteNonQueryAsync();
        }
        return names.Count;
    }

    private static string Sample(JsonElement e) =>
        e.TryGetProperty("sample", out var s) && s.ValueKind == JsonValueKind.String ? $"`{s.GetString()}`" : $"`{Truncate(e.GetProperty("query").GetString()!)}`";

    private static string Truncate(string text) => text.Length <= 60 ? text : text[..57] + "…";

    private static string Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("0.0", CultureInfo.InvariantCulture) : "–";

    private static string Percent(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("P0", CultureInfo.InvariantCulture) : "unverified";

    private static string Size(JsonElement e) =>
        e.TryGetProperty("estimatedSizeBytes", out var v) && v.ValueKind == JsonValueKind.Number ? $"{v.GetInt64() / 1024.0 / 1024.0:0.0} MiB" : "–";
}
