namespace AspirePerf.Dashboard.Web.Monitoring;

/// <summary>
/// A look-back window a page offers for Prometheus history. Only these are offered, so a live feed's key (which holds
/// the window) takes one of a few values and the number of shared sources stays bounded.
/// </summary>
public sealed record HistoryWindow(string Name, TimeSpan Span, string Label)
{
    public static readonly IReadOnlyList<HistoryWindow> All =
    [
        new("5m", TimeSpan.FromMinutes(5), "Last 5 minutes"),
        new("15m", TimeSpan.FromMinutes(15), "Last 15 minutes"),
        new("1h", TimeSpan.FromHours(1), "Last hour"),
        new("6h", TimeSpan.FromHours(6), "Last 6 hours"),
        new("24h", TimeSpan.FromHours(24), "Last 24 hours"),
    ];

    /// <summary>The offered window named <paramref name="name"/>, or <paramref name="fallback"/> for anything else.</summary>
    public static HistoryWindow Find(string? name, string fallback) =>
        All.FirstOrDefault(w => w.Name == name) ?? All.First(w => w.Name == fallback);
}
