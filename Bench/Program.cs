using AspirePerf.Bench;

return args switch
{
    ["workload", .. var rest] => await WorkloadBenchmark.RunAsync(rest),
    ["cache-http", .. var rest] => await CacheHttpBenchmark.RunAsync(rest),
    ["micro", .. var rest] => MicroBenchmarks.Run(rest),
    ["cache-stampede", .. var rest] => await CacheStampedeBenchmark.RunAsync(rest),
    ["backplane", .. var rest] => await BackplaneBenchmark.RunAsync(rest),
    ["profiling-http", .. var rest] => await ProfilingHttpBenchmark.RunAsync(rest),
    ["advisor", .. var rest] => await AdvisorBenchmark.RunAsync(rest),
    ["jobs", .. var rest] => await JobsBenchmark.RunAsync(rest),
    ["jobs-worker", .. var rest] => await JobsBenchmark.RunWorkerAsync(rest),
    ["http-surface", .. var rest] => await HttpSurfaceBenchmark.RunAsync(rest),
    ["bare-kestrel", .. var rest] => await BareKestrel.RunAsync(rest),
    ["stream-rows", .. var rest] => await StreamRowsBenchmark.RunAsync(rest),
    ["sla", .. var rest] => await AspirePerf.Bench.Sla.SlaCommand.RunAsync(rest),
    ["analyses", .. var rest] => await AnalysesBenchmark.RunAsync(rest),
    ["query-jit", .. var rest] => await QueryJitBenchmark.RunAsync(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet artifacts/bin/AspirePerf.Bench/release/AspirePerf.Bench.dll <command> [options]
        (build first with: dotnet build AspirePerf.sln -c Release; run the system from the Release build)

        commands:
          workload [--api http://localhost:5380] [--runs 5] [--warmup 1] [--operator-key KEY]
              Seeding time and rows/s, then the uncached time of every registered query with its defaults.
          cache-http [--api URL] [--query wage-percentiles] [--connections 16] [--duration 10] [--warmup 3]
                     [--uncached-runs 7] [--operator-key KEY]
              Side by side: the query uncached, the query cached under load, the constant-JSON endpoint of the same size.
          micro --cache "<redis connection string>" --workforce "<npgsql connection string>" [BenchmarkDotNet args]
              BenchmarkDotNet: raw HybridCache L1 hit vs AdaptiveCache L1 hit, L2 hit over Redis, uncached query; miss + set on a
              fresh key (raw HybridCache vs AdaptiveCache with the lease on and off). --filter "*CacheHit*" "*CacheMiss*" skips PostgreSQL.
          cache-stampede --cache "<redis connection string>" [--callers 50] [--runs 30] [--factory-ms 50]
              Callers on one cold key: the slowest caller's wait against the factory's time and a Redis round trip (medians),
              raw HybridCache vs AdaptiveCache with the lease on and off, in one process.
          profiling-http [--api URL] [--query wage-percentiles] [--connections 16] [--duration 5] [--rounds 4] [--operator-key KEY]
              Query-endpoint throughput with request profiling on vs off, alternating slices in one run.
          advisor --workforce "<npgsql connection string>" [--api URL] [--runs 3] [--keep] [--check-declined] [--operator-key KEY]
              Index advisor end to end: workload before, advice, apply each index (re-measured by the API), workload after;
              --check-declined also builds each declined statement's best candidate and measures it.
          backplane --cache "<redis connection string>" [--rounds 200]
              Cross-node invalidation: time from an invalidation on node A until node B's L1 misses.
          jobs --workforce "<npgsql connection string>" [--jobs 50000] [--hangfire-jobs N] [--concurrency 64]
               [--hangfire-workers 20] [--latency-samples 300] [--load-rate 2000] [--no-hangfire]
              Job queue vs Hangfire.PostgreSql on the same server (database jobs_bench): no-op jobs/s with one and two
              workers, enqueue-to-start latency idle and under load.
          http-surface [--api URL] [--connections 32] [--threads 2] [--duration 10] [--warmup 3] [--rounds 3]
                       [--limit N | --target-bytes 4096] [--bare-port 5399] [--wrk /usr/bin/wrk] [--api-pid PID]
              With wrk, side by side in interleaved rounds (medians): a bare Kestrel minimal API (child process) sending the same
              bytes, a cached ~4 KB employment-spells page, the same with Accept-Encoding: br, the same revalidated (304), and the
              API's constant endpoint of the same size; with each server process's CPU time per request (from /proc).
          sla [--api URL] [--scenarios Bench/sla-scenarios.json] [--scenario NAME]... [--duration S] [--warmup S] [--runs N]
              [--rate-scale X] [--out DIR] [--save-baseline NAME | --baseline NAME] [--min-effect 0.05] [--alpha 0.05]
              [--metrics URL,URL] [--api-key KEY] [--operator-key KEY] [--keep-cache]
              [--postgres-port 55432] [--redis-port 56379]
              The SLA suite (docs/sla.md): open-model (constant arrival rate, latency from the intended start) or closed-model
              scenarios; percentiles per scenario and endpoint, resource use, JSON + Markdown + .hgrm + latency.png per run;
              baselines compared with a Mann–Whitney U test. Exit 0 pass, 3 SLA breach, 4 regression.
          bare-kestrel [--port 5399] [--bytes 4096]
              A minimal Kestrel app answering GET / with a constant JSON body of that size (http-surface starts it).
          stream-rows [--api URL] [--workforce "<npgsql connection string>"] [--rounds 3] [--warmup 1] [--api-pid PID]
              Streams employment-spells/rows as NDJSON (1,000,000 rows) sampling the API's RSS every 100 ms, side by side with
              COPY of the same SELECT through Npgsql's text export. --workforce defaults to the AppHost's local server
              (localhost:55432, password from .data/secrets.json).
          analyses --workforce "<npgsql connection string>" --cache "<redis connection string>" [--runs 7] [--warmup 2]
                   [--workers 2] [--scale 1000000] [--seed 42]
              Every analysis, caches bypassed, side by side and interleaved: serial (1 step at a time), parallel, and distributed
              (analysis jobs on Worker processes it starts from the built Worker); wall vs critical-path bound, saving vs serial,
              achieved parallelism, distributed overhead per step, and the machine's busy cores per mode (the saving ceiling).
              Seeds the database analyses_bench on that server.
          query-jit --workforce "<npgsql connection string>" [--runs 5] [--warmup 1]
              Every registered query with PostgreSQL's JIT off and on, interleaved (medians), against what each declares,
              on the analyses benchmark's database.
        """);
    return 2;
}
