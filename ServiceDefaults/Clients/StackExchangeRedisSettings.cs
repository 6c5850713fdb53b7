namespace AspirePerf.ServiceDefaults.Clients;

/// <summary>Mirrors Aspire.StackExchange.Redis's settings class, bound from <c>Aspire:StackExchange:Redis</c>.</summary>
public sealed class StackExchangeRedisSettings : IConnectionStringSettings
{
    public string? ConnectionString { get; set; }
    public bool DisableHealthChecks { get; set; }
    public bool DisableTracing { get; set; }
    public bool DisableAutoActivation { get; set; } = true;
}
