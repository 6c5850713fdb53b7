using AspirePerf.Bench;

return args switch
{
    ["workload", .. var rest] => await WorkloadBenchmark.RunAsync(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run --project Bench -c Release -- <command> [options]

        commands:
          workload [--api http://localhost:5380] [--runs 5] [--warmup 1]
              Seeding time and rows/s of the running system's database, then the uncached time of every registered
              query with its default parameters (median, min and max of --runs runs after --warmup runs).
        """);
    return 2;
}
