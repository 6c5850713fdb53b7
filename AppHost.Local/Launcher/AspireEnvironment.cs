namespace AspirePerf.AppHost.Local.Launcher;

/// <summary>
/// The environment variables Aspire 13's AppHost injects into a project resource in run mode
/// (ProjectResourceBuilderExtensions.WithProjectDefaults, OtlpConfigurationExtensions and WithReference),
/// reproduced so that no service can tell which host launched it.
/// </summary>
public sealed class AspireEnvironment
{
    private readonly Dictionary<string, string?> _variables = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, string?> Variables => _variables;

    /// <summary>Defaults for every project: URLs, service name, Development OTEL batching, console format.</summary>
    public static AspireEnvironment ForProject(string resourceName, Uri httpEndpoint, string environmentName, Uri? otlpEndpoint)
    {
        var env = new AspireEnvironment();
        var v = env._variables;
        v["ASPNETCORE_URLS"] = httpEndpoint.ToString().TrimEnd('/');
        v["ASPNETCORE_ENVIRONMENT"] = environmentName;
        v["DOTNET_ENVIRONMENT"] = environmentName;
        v["DOTNET_LAUNCH_PROFILE"] = "http";
        v["OTEL_SERVICE_NAME"] = resourceName;
        v["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={resourceName}-{Guid.NewGuid():N}";
        v["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory";
        v["LOGGING__CONSOLE__FORMATTERNAME"] = "simple";
        // Aspire asks for colours because its dashboard renders them; we do so only when a terminal will show them.
        if (!Console.IsOutputRedirected)
        {
            v["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "true";
        }
        if (environmentName == "Development")
        {
            v["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            v["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            v["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
            v["OTEL_TRACES_SAMPLER"] = "always_on";
            v["OTEL_METRICS_EXEMPLAR_FILTER"] = "trace_based";
            v["OTEL_DOTNET_EXPERIMENTAL_ASPNETCORE_DISABLE_URL_QUERY_REDACTION"] = "true";
            v["OTEL_DOTNET_EXPERIMENTAL_HTTPCLIENT_DISABLE_URL_QUERY_REDACTION"] = "true";
        }
        // Only when a collector exists: Aspire points this at its dashboard; we have none unless one is configured.
        if (otlpEndpoint is not null)
        {
            v["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint.ToString().TrimEnd('/');
            v["OTEL_EXPORTER_OTLP_PROTOCOL"] = otlpEndpoint.Scheme == Uri.UriSchemeHttps || otlpEndpoint.Port == 4317 ? "grpc" : "http/protobuf";
        }
        return env;
    }

    /// <summary><c>WithReference(postgres.AddDatabase(name))</c>: the connection string and its splatted properties.</summary>
    public AspireEnvironment WithPostgresDatabase(string name, PostgresServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var prefix = EnvName(name);
        _variables[$"ConnectionStrings__{name}"] = server.ConnectionStringFor(name);
        _variables[$"{prefix}_HOST"] = "localhost";
        _variables[$"{prefix}_PORT"] = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _variables[$"{prefix}_USERNAME"] = PostgresServer.UserName;
        _variables[$"{prefix}_PASSWORD"] = server.Password;
        _variables[$"{prefix}_URI"] = $"postgresql://{PostgresServer.UserName}:{Uri.EscapeDataString(server.Password)}@localhost:{server.Port}/{name}";
        _variables[$"{prefix}_JDBCCONNECTIONSTRING"] = $"jdbc:postgresql://localhost:{server.Port}/{name}";
        _variables[$"{prefix}_DATABASENAME"] = name;
        return this;
    }

    /// <summary><c>WithReference(builder.AddRedis(name))</c>.</summary>
    public AspireEnvironment WithRedis(string name, RedisServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var prefix = EnvName(name);
        _variables[$"ConnectionStrings__{name}"] = server.ConnectionString;
        _variables[$"{prefix}_HOST"] = "localhost";
        _variables[$"{prefix}_PORT"] = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _variables[$"{prefix}_PASSWORD"] = server.Password;
        _variables[$"{prefix}_URI"] = $"redis://:{Uri.EscapeDataString(server.Password)}@localhost:{server.Port}";
        return this;
    }

    /// <summary><c>WithReference(project)</c>: service discovery (<c>services__name__scheme__0</c>) and endpoint variables.</summary>
    public AspireEnvironment WithProjectReference(ProjectResource project)
    {
        ArgumentNullException.ThrowIfNull(project);
        var url = project.HttpEndpoint.ToString().TrimEnd('/');
        _variables[$"services__{project.Name}__{project.HttpEndpoint.Scheme}__0"] = url;
        _variables[$"{EnvName(project.Name)}_{project.HttpEndpoint.Scheme.ToUpperInvariant()}"] = url;
        return this;
    }

    /// <summary><c>WithEnvironment(name, value)</c> for each pair.</summary>
    public AspireEnvironment WithEnvironment(IReadOnlyDictionary<string, string> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        foreach (var (name, value) in variables)
        {
            _variables[name] = value;
        }
        return this;
    }

    private static string EnvName(string name) =>
        new([.. name.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);
}
