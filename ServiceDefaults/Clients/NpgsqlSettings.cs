namespace AspirePerf.ServiceDefaults.Clients;

/// <summary>Mirrors Aspire.Npgsql's settings class, bound from <c>Aspire:Npgsql</c>.</summary>
public sealed class NpgsqlSettings : IConnectionStringSettings
{
    public string? ConnectionString { get; set; }
    public bool DisableHealthChecks { get; set; }
    public bool DisableTracing { get; set; }
    public bool DisableMetrics { get; set; }
}
