using Microsoft.Extensions.Configuration;

namespace AspirePerf.ServiceDefaults.Clients;

/// <summary>Settings of a client integration that carry a connection string.</summary>
public interface IConnectionStringSettings
{
    string? ConnectionString { get; set; }
}

internal static class ClientSettings
{
    /// <summary>
    /// Aspire's binding order: the integration's section, then each named subsection (connection name, context type),
    /// then <c>ConnectionStrings:&lt;name&gt;</c> overriding the connection string. Returns the integration's section.
    /// </summary>
    public static IConfigurationSection Bind<T>(IConfiguration configuration, T settings, string sectionName, string connectionName, params string[] subsections)
        where T : IConnectionStringSettings
    {
        var section = configuration.GetSection(sectionName);
        section.Bind(settings);
        foreach (var name in subsections.Prepend(connectionName))
        {
            section.GetSection(name).Bind(settings);
        }
        if (configuration.GetConnectionString(connectionName) is { } cs)
        {
            settings.ConnectionString = cs;
        }
        return section;
    }
}
