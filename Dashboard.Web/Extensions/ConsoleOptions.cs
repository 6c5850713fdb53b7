namespace AspirePerf.Dashboard.Web.Extensions;

/// <summary>Where the console finds what is not behind the API (section <c>Console</c>; the AppHost sets both).</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary>The Aspire dashboard's address, for links to a trace (<c>{url}/traces/detail/{traceId}</c>); none: no links.</summary>
    public Uri? AspireDashboardUrl { get; set; }

    /// <summary>The SLA runner's output directory (its <c>--out</c> parent, <c>artifacts/sla</c>), read for the SLA page.</summary>
    public string? SlaResultsDirectory { get; set; }

    /// <summary>The SLA runner's stored baselines (<c>Bench/baselines</c>).</summary>
    public string? SlaBaselinesDirectory { get; set; }

    /// <summary>How often live pages refresh their data (one read per source for every viewer).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);
}
