namespace AspirePerf.AppHost.Infrastructure;

/// <summary>PostgreSQL and Redis as containers, where a container runtime answers: Aspire's own resources.</summary>
public static class ContainerInfrastructure
{
    public static InfrastructureResources AddContainerInfrastructure(this IDistributedApplicationBuilder builder, AppHostSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);

        // Aspire's PostgreSQL image plus hypopg and pg_qualstats (Infrastructure/postgres/Dockerfile), so index advice
        // is verified with hypothetical indexes in this way too.
        var serverSettings = InfrastructureResources.PostgresServerSettings(["pg_stat_statements", "pg_qualstats"], settings.Postgres.Settings);
        var postgres = builder.AddPostgres(InfrastructureResources.PostgresName, port: PortSettings.OrDynamic(settings.Ports.Postgres))
            .WithDockerfile(Path.Combine(builder.AppHostDirectory, "Infrastructure", "postgres"))
            // The image's entrypoint passes arguments that start with '-' to the server.
            .WithArgs([.. InfrastructureResources.AsServerArguments(serverSettings)]);
        if (builder.ExecutionContext.IsRunMode)
        {
            // Keep the seeded workload between runs; a deployment target provides its own storage.
            postgres.WithDataVolume();
        }
        var workforce = postgres.AddDatabase(InfrastructureResources.WorkforceName);
        var cache = builder.AddRedis(InfrastructureResources.CacheName, port: PortSettings.OrDynamic(settings.Ports.Cache));
        return new(postgres, workforce, cache);
    }
}
