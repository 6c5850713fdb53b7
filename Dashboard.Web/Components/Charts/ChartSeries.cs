namespace AspirePerf.Dashboard.Web.Components.Charts;

/// <summary>One line of a chart: a name for the legend and its points in time order.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<ChartPoint> Points);

public readonly record struct ChartPoint(DateTimeOffset At, double Value);

/// <summary>Colours for chart lines, each with at least 3:1 contrast on white (WCAG non-text contrast).</summary>
public static class ChartPalette
{
    private static readonly string[] Colours = ["#0f6cbd", "#c4314b", "#107c10", "#8764b8", "#ca5010", "#038387", "#5c2e91", "#986f0b"];

    public static string Colour(int index) => Colours[index % Colours.Length];
}
