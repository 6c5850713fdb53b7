// The Aspire AppHost: PostgreSQL and Redis as containers, the Aspire dashboard, publishing. It needs the Aspire
// packages and a container runtime; AppHost.Local starts this same topology (names, references, waits, variables)
// from locally installed binaries on machines that have neither. Change one, change the other.
// Each call below is checked against Aspire v13.1.0 in docs/aspire-apphost.md.
var builder = DistributedApplication.CreateBuilder(args);

// The image's entrypoint treats a first argument starting with '-' as server options for `postgres`, so these
// preload pg_stat_statements exactly as AppHost.Local does (the profiling layer reads it).
var postgres = builder.AddPostgres("postgres")
    .WithArgs("-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all");

if (builder.ExecutionContext.IsRunMode)
{
    // Keep the seeded workload between runs; a deployment target provides its own storage.
    postgres.WithDataVolume();
}

var workforce = postgres.AddDatabase("workforce");

var cache = builder.AddRedis("cache");

// The worker migrates and seeds; its /health stays unhealthy until that is done, so waiting for it means the schema exists.
var worker = builder.AddProject<Projects.AspirePerf_Worker>("worker")
    .WithReference(workforce)
    .WaitFor(workforce)
    .WithReference(cache)
    .WaitFor(cache)
    .WithHttpHealthCheck("/health");

var apiService = builder.AddProject<Projects.AspirePerf_ApiService>("apiservice")
    .WithReference(workforce)
    .WithReference(cache)
    .WithReference(worker) // services__worker__http__0: the API reports the worker's health
    .WaitFor(worker)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.AspirePerf_Dashboard_Web>("dashboard")
    .WithReference(apiService)
    .WaitFor(apiService)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();
