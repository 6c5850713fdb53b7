using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;

namespace AspirePerf.AppHost.Tests;

/// <summary>
/// The built AppHost run as its own process, as `dotnet run --project AppHost` runs it, with free ports, a throw-away
/// data folder, and the launch profile's variables (a dll started directly reads no launch profile).
/// </summary>
public static class AppHostProcess
{
    public static string DllPath
    {
        get
        {
            var testDirectory = Path.GetDirectoryName(typeof(AppHostProcess).Assembly.Location)!;
            return Path.GetFullPath(Path.Combine(testDirectory, "..", "..", "AspirePerf.AppHost", Path.GetFileName(testDirectory), "AspirePerf.AppHost.dll"));
        }
    }

    public static IReadOnlyDictionary<string, string?> Environment(int dashboardPort) => new Dictionary<string, string?>
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["DOTNET_ENVIRONMENT"] = "Development",
        ["ASPNETCORE_URLS"] = $"http://localhost:{dashboardPort}",
        ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}",
        ["ASPIRE_DASHBOARD_MCP_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}",
        ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}",
        ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
        ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true",
    };

    /// <summary>Arguments for a run on free ports (the orchestrator picks them) with a small, fast workload.</summary>
    public static IReadOnlyList<string> RunArguments(string dataDirectory) =>
    [
        $"--AppHost:DataDirectory={dataDirectory}",
        "--AppHost:Ports:Postgres=0", "--AppHost:Ports:Cache=0", "--AppHost:Ports:ApiService=0",
        "--AppHost:Ports:Dashboard=0", "--AppHost:Ports:Worker=0", "--AppHost:Ports:Prometheus=0", "--AppHost:Ports:Grafana=0",
        "--AppHost:Postgres:Settings:fsync=off",
        "--AppHost:SeedingScale=20000",
    ];

    /// <summary>
    /// Starts the AppHost; with <paramref name="ownProcessGroup"/> it leads a new process group with SIGINT at its
    /// default, as a terminal's foreground job does. (A test run launched as a background job of a non-interactive shell
    /// inherits SIGINT ignored, and .NET keeps an inherited ignore: without the reset, Ctrl+C could not be tested there.)
    /// </summary>
    public static ManagedProcess Start(IEnumerable<string> arguments, TextWriter log, int dashboardPort, bool ownProcessGroup = false)
    {
        IEnumerable<string> dotnet = ["dotnet", DllPath, .. arguments];
        return ownProcessGroup
            ? ManagedProcess.Start("apphost", "setsid", ["env", "--default-signal=INT", .. dotnet], log, Environment(dashboardPort))
            : ManagedProcess.Start("apphost", "dotnet", dotnet.Skip(1), log, Environment(dashboardPort));
    }

    /// <summary>A URL the AppHost printed once everything was healthy, by its label ("API", "Prometheus", ...).</summary>
    public static Uri PrintedUrl(LineCapture log, string label)
    {
        ArgumentNullException.ThrowIfNull(log);
        var match = System.Text.RegularExpressions.Regex.Match(log.Text, $@"\s{System.Text.RegularExpressions.Regex.Escape(label)}\s{{2,}}(?<url>http://\S+)");
        return match.Success ? new Uri(match.Groups["url"].Value) : throw new InvalidOperationException($"The AppHost printed no URL for {label}.");
    }

    public static string NewDataDirectory() => TestDirectories.CreateTraversable("aspireperf-apphost");
}
