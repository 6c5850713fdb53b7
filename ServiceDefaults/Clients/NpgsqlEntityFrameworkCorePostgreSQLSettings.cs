namespace AspirePerf.ServiceDefaults.Clients;

/// <summary>
/// Mirrors Aspire.Npgsql.EntityFrameworkCore.PostgreSQL's settings class, bound from
/// <c>Aspire:Npgsql:EntityFrameworkCore:PostgreSQL</c>.
/// </summary>
public sealed class NpgsqlEntityFrameworkCorePostgreSQLSettings : IConnectionStringSettings
{
    public string? ConnectionString { get; set; }
    public bool DisableRetry { get; set; }
    public bool DisableHealthChecks { get; set; }
    public bool DisableTracing { get; set; }
    public bool DisableMetrics { get; set; }
    public int? CommandTimeout { get; set; }
}
