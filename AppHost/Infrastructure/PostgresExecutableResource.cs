namespace AspirePerf.AppHost.Infrastructure;

/// <summary>
/// A PostgreSQL server run from the local binaries by the orchestrator: the executable counterpart of Aspire's
/// <c>PostgresServerResource</c>, with the same connection string shape and connection properties.
/// </summary>
public sealed class PostgresExecutableResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";
    public const string UserName = "postgres";

    private readonly Dictionary<string, string> _databases = new(StringComparer.OrdinalIgnoreCase);

    public EndpointReference PrimaryEndpoint => field ??= new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>Resource name to database name, created once the server accepts connections.</summary>
    public IReadOnlyDictionary<string, string> Databases => _databases;

    public EndpointReferenceExpression Host => PrimaryEndpoint.Property(EndpointProperty.Host);

    public EndpointReferenceExpression Port => PrimaryEndpoint.Property(EndpointProperty.Port);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"Host={Host};Port={Port};Username={UserName};Password={PasswordParameter}");

    internal void AddDatabase(string name, string databaseName) => _databases.TryAdd(name, databaseName);

    internal ReferenceExpression Uri(string? databaseName = null) => databaseName is null
        ? ReferenceExpression.Create($"postgresql://{UserName}:{PasswordParameter:uri}@{Host}:{Port}")
        : ReferenceExpression.Create($"postgresql://{UserName}:{PasswordParameter:uri}@{Host}:{Port}/{databaseName}");

    internal ReferenceExpression JdbcConnectionString(string? databaseName = null) => databaseName is null
        ? ReferenceExpression.Create($"jdbc:postgresql://{Host}:{Port}")
        : ReferenceExpression.Create($"jdbc:postgresql://{Host}:{Port}/{databaseName}");

    internal IEnumerable<KeyValuePair<string, ReferenceExpression>> ServerProperties() =>
    [
        new("Host", ReferenceExpression.Create($"{Host}")),
        new("Port", ReferenceExpression.Create($"{Port}")),
        new("Username", ReferenceExpression.Create($"{UserName}")),
        new("Password", ReferenceExpression.Create($"{PasswordParameter}")),
    ];

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
        [.. ServerProperties(), new("Uri", Uri()), new("JdbcConnectionString", JdbcConnectionString())];
}

/// <summary>A database on a <see cref="PostgresExecutableResource"/>: the counterpart of Aspire's <c>PostgresDatabaseResource</c>.</summary>
public sealed class PostgresExecutableDatabaseResource(string name, string databaseName, PostgresExecutableResource parent)
    : Resource(name), IResourceWithParent<PostgresExecutableResource>, IResourceWithConnectionString
{
    public PostgresExecutableResource Parent { get; } = parent;

    public string DatabaseName { get; } = databaseName;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        .. Parent.ServerProperties(),
        new("DatabaseName", ReferenceExpression.Create($"{DatabaseName}")),
        new("Uri", Parent.Uri(DatabaseName)),
        new("JdbcConnectionString", Parent.JdbcConnectionString(DatabaseName)),
    ];
}
