using System.Globalization;
using System.Text.Json;
using AspirePerf.Dashboard.Web.Components.Charts;

namespace AspirePerf.Dashboard.Web.Monitoring;

/// <summary>One labelled series from Prometheus: its labels and its (time, value) points.</summary>
public sealed record PrometheusSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<PrometheusPoint> Points)
{
    public string Label(string name) => Labels.TryGetValue(name, out var value) ? value : "";

    public double? Last => Points.Count == 0 ? null : Points[^1].Value;

    /// <summary>This series as a chart line named <paramref name="name"/>, values multiplied by <paramref name="scale"/> (1000 for s → ms).</summary>
    public ChartSeries Chart(string name, double scale = 1) => new(name, [.. Points.Select(p => new ChartPoint(p.At, p.Value * scale))]);
}

/// <summary>One alert Prometheus evaluates as pending or firing.</summary>
public sealed record PrometheusAlert(string Name, string Severity, string State, string Summary, DateTimeOffset? ActiveAt);

public readonly record struct PrometheusPoint(DateTimeOffset At, double Value);

/// <summary>
/// Prometheus's HTTP query API (/api/v1/query and /api/v1/query_range), found through service discovery
/// (services__prometheus__http__0, which the AppHost sets when it runs Prometheus). History comes from here, so a chart
/// covers every node and survives restarts. Without Prometheus <see cref="Configured"/> is false and pages say so.
/// </summary>
public sealed class PrometheusClient(HttpClient http, IConfiguration configuration)
{
    /// <summary>The most points a range query may ask for (Prometheus refuses more than 11,000).</summary>
    public const int MaxPoints = 600;

    public bool Configured { get; } = configuration.GetSection("services:prometheus").GetChildren().Any();

    /// <summary>Samples of <paramref name="query"/> over the last <paramref name="window"/>, about <paramref name="points"/> per series.</summary>
    public async Task<IReadOnlyList<PrometheusSeries>> RangeAsync(string query, TimeSpan window, int points, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(query);
        var end = DateTimeOffset.UtcNow;
        var step = Math.Max(1, Math.Ceiling(window.TotalSeconds / Math.Clamp(points, 2, MaxPoints)));
        var uri = string.Create(CultureInfo.InvariantCulture,
            $"/api/v1/query_range?query={Uri.EscapeDataString(query)}&start={(end - window).ToUnixTimeSeconds()}&end={end.ToUnixTimeSeconds()}&step={step}");
        using var document = await GetAsync(uri, cancellationToken);
        return [.. document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
            .Select(r => new PrometheusSeries(Labels(r), [.. r.GetProperty("values").EnumerateArray().Select(Point).Where(p => double.IsFinite(p.Value))]))];
    }

    /// <summary>The current value of <paramref name="query"/>, one sample per series.</summary>
    public async Task<IReadOnlyList<PrometheusSeries>> InstantAsync(string query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(query);
        using var document = await GetAsync($"/api/v1/query?query={Uri.EscapeDataString(query)}", cancellationToken);
        return [.. document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
            .Select(r => new PrometheusSeries(Labels(r), [.. new[] { Point(r.GetProperty("value")) }.Where(p => double.IsFinite(p.Value))]))];
    }

    /// <summary>The alerts pending or firing now, from the rules in eng/prometheus/rules.</summary>
    public async Task<IReadOnlyList<PrometheusAlert>> AlertsAsync(CancellationToken cancellationToken)
    {
        using var document = await GetAsync("/api/v1/alerts", cancellationToken);
        return [.. document.RootElement.GetProperty("data").GetProperty("alerts").EnumerateArray().Select(a => new PrometheusAlert(
            Labels(a, "labels").GetValueOrDefault("alertname", ""),
            Labels(a, "labels").GetValueOrDefault("severity", ""),
            a.GetProperty("state").GetString() ?? "",
            Labels(a, "annotations").GetValueOrDefault("summary", ""),
            a.TryGetProperty("activeAt", out var at) && at.TryGetDateTimeOffset(out var activeAt) ? activeAt : null))];
    }

    private async Task<JsonDocument> GetAsync(string relative, CancellationToken cancellationToken)
    {
        if (!Configured)
        {
            throw new InvalidOperationException("Prometheus is not running with this system (AppHost:Prometheus:Enabled, or its binary is missing).");
        }
        using var response = await http.GetAsync(new Uri(relative, UriKind.Relative), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // Prometheus explains a refusal in JSON; a proxy, or a Prometheus still starting, answers with text.
            throw new HttpRequestException($"Prometheus answered {(int)response.StatusCode}: {await ErrorAsync(response, cancellationToken)}",
                null, response.StatusCode);
        }
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
    }

    private static async Task<string?> ErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var e)
                ? e.GetString()
                : null;
        }
        catch (JsonException)
        {
            return body.Length > 200 ? body[..200] + "…" : body;
        }
    }

    private static Dictionary<string, string> Labels(JsonElement result, string property = "metric") =>
        result.GetProperty(property).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);

    private static PrometheusPoint Point(JsonElement pair) => new(
        DateTimeOffset.FromUnixTimeMilliseconds((long)(pair[0].GetDouble() * 1000)),
        Value(pair[1].GetString()));

    // Prometheus writes +Inf and -Inf (a quantile beyond the last bucket), which double.Parse does not take: it threw, and
    // one slow route failed the whole read. Not finite, so the callers leave those points out.
    private static double Value(string? text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : double.NaN,
    };
}
