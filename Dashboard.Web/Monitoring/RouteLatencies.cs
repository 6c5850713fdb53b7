using System.Globalization;

namespace AspirePerf.Dashboard.Web.Monitoring;

/// <summary>One API route's latency percentiles and request rate over a window, as Prometheus computes them from every node.</summary>
public sealed record RouteLatency(string Route, double RequestsPerSecond, double? P50Ms, double? P90Ms, double? P95Ms, double? P99Ms);

/// <summary>
/// Per-route percentiles from the API's request-duration histogram (ASP.NET Core's <c>http.server.request.duration</c>),
/// summed over nodes by bucket before the quantile, so the figures hold across nodes and restarts. Percentiles are
/// interpolated within histogram buckets: an estimate as fine as the bucket bounds.
/// </summary>
public static class RouteLatencies
{
    private const string Selector = """job="apiservice", http_route!="" """;
    private static readonly double[] Quantiles = [0.5, 0.9, 0.95, 0.99];

    public static async Task<IReadOnlyList<RouteLatency>> ReadAsync(PrometheusClient prometheus, HistoryWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prometheus);
        ArgumentNullException.ThrowIfNull(window);
        var rates = prometheus.InstantAsync($"sum by (http_route) (rate(http_server_request_duration_seconds_count{{{Selector}}}[{window.Name}]))", cancellationToken);
        var quantiles = Quantiles.Select(q => prometheus.InstantAsync(string.Create(CultureInfo.InvariantCulture,
            $"histogram_quantile({q}, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{{{Selector}}}[{window.Name}])))"), cancellationToken)).ToList();
        await Task.WhenAll([rates, .. quantiles]);
        var byRoute = new Dictionary<string, double?[]>(StringComparer.Ordinal);
        foreach (var series in await rates)
        {
            byRoute[series.Label("http_route")] = [series.Last, null, null, null, null];
        }
        for (var i = 0; i < quantiles.Count; i++)
        {
            foreach (var series in await quantiles[i])
            {
                if (byRoute.TryGetValue(series.Label("http_route"), out var values))
                {
                    values[i + 1] = series.Last * 1000;
                }
            }
        }
        return [.. byRoute
            .Where(r => r.Value[0] is > 0)
            .Select(r => new RouteLatency(r.Key, r.Value[0]!.Value, r.Value[1], r.Value[2], r.Value[3], r.Value[4]))
            .OrderByDescending(r => r.P95Ms ?? 0).ThenBy(r => r.Route, StringComparer.Ordinal)];
    }
}
