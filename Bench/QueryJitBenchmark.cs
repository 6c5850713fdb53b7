using System.Globalization;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Workforce.Queries;
using Npgsql;

namespace AspirePerf.Bench;

/// <summary>
/// Every registered query with its defaults (a required id gets 1, as <c>workload</c> passes), run by the product's
/// executor with PostgreSQL's JIT off and on (<see cref="QueryDefinition.Jit"/> overridden), interleaved query by query
/// and round by round in one run, medians after warm-up: the evidence for which queries declare JIT off. On the
/// analyses benchmark's database (<c>analyses_bench</c>, seeded by the same seeder when missing).
/// </summary>
public static class QueryJitBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var server = Options.Required(args, "--workforce", "ConnectionStrings__workforce", "\"<npgsql connection string>\" (its server is used; the analyses benchmark's database is seeded there)");
        var runs = Options.Int(args, "--runs", 5);
        var warmup = Options.Int(args, "--warmup", 1);
        var seed = new Workforce.Seeding.SeedingOptions();
        var connectionString = await AnalysesBenchmark.PrepareDatabaseAsync(server, seed.Seed, seed.Scale);

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var executor = new QueryExecutor(dataSource, Microsoft.Extensions.Options.Options.Create(new QueryExecutionOptions()));
        await using (var show = dataSource.CreateCommand("SELECT current_setting('jit_above_cost') || ' / ' || current_setting('jit_optimize_above_cost') || ' / ' || current_setting('jit_inline_above_cost')"))
        {
            Console.WriteLine($"query-jit: {WorkforceQueries.All.Count} queries, {warmup} warm-up + {runs} measured rounds; " +
                $"the server's jit_above_cost / jit_optimize_above_cost / jit_inline_above_cost: {await show.ExecuteScalarAsync()}; {Environment.ProcessorCount} cores");
        }

        var times = WorkforceQueries.All.ToDictionary(q => q.Id, _ => (Off: new List<double>(), On: new List<double>()));
        for (var round = 0; round < warmup + runs; round++)
        {
            foreach (var query in WorkforceQueries.All)
            {
                var (parameters, errors) = QueryParameterBinder.Bind(query,
                    query.Parameters.Where(p => p.Required).Select(p => new KeyValuePair<string, IReadOnlyList<string?>>(p.Name, ["1"])));
                if (parameters is null)
                {
                    throw new InvalidOperationException($"{query.Id}: {string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))}");
                }
                // Alternate which goes first, so neither always meets the state the other left.
                bool[] order = round % 2 == 0 ? [false, true] : [true, false];
                foreach (var jit in order)
                {
                    var result = await executor.ExecuteAsync(query with { Jit = jit }, parameters, CancellationToken.None);
                    if (round >= warmup)
                    {
                        (jit ? times[query.Id].On : times[query.Id].Off).Add(result.ExecutionMs);
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Medians of {runs} (ms, open to last row):");
        Console.WriteLine();
        Console.WriteLine("| query | JIT off | JIT on | off ÷ on | declared |");
        Console.WriteLine("|---|---:|---:|---:|---|");
        foreach (var query in WorkforceQueries.All)
        {
            var (off, on) = (WorkloadBenchmark.Median(times[query.Id].Off), WorkloadBenchmark.Median(times[query.Id].On));
            var declared = query.Jit switch { null => "server's setting", true => "on", false => "off" };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{query.Id}` | {off:0.0} | {on:0.0} | {off / on:0.00} | {declared} |"));
        }
        return 0;
    }
}
