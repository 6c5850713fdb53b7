namespace AspirePerf.ServiceDefaults;

/// <summary>Meters and activity sources that every host exports. Capabilities add theirs here once.</summary>
public static class TelemetryNames
{
    /// <summary>Npgsql's own meter and activity source (Npgsql.OpenTelemetry).</summary>
    public const string Npgsql = "Npgsql";

    /// <summary>The source name Aspire's Redis integration uses, so traces look the same under either host.</summary>
    public const string Redis = "OpenTelemetry.Instrumentation.StackExchangeRedis";

    /// <summary>The AspirePerf performance layer's meter and activity source.</summary>
    public const string AspirePerf = "AspirePerf";

    public static readonly string[] Meters = [Npgsql, AspirePerf];
    public static readonly string[] ActivitySources = [Npgsql, Redis, AspirePerf];
}
