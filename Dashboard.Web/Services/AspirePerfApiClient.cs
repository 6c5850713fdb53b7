using System.Net.Http.Json;

namespace AspirePerf.Dashboard.Web.Services;

/// <summary>Typed client for the ApiService endpoints the dashboard shows.</summary>
public sealed class AspirePerfApiClient(HttpClient http)
{
    public async Task<SystemHealth> GetResourceHealthAsync(CancellationToken cancellationToken = default) =>
        await http.GetFromJsonAsync<SystemHealth>("/api/v1/system/resources", cancellationToken)
        ?? throw new InvalidOperationException("The API returned an empty resource list.");
}

public sealed record SystemHealth(DateTimeOffset CheckedAt, IReadOnlyList<ResourceHealth> Resources);

public sealed record ResourceHealth(string Name, string Kind, string Status, double DurationMs, string? Description);
