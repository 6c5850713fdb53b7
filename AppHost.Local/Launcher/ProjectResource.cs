using System.Net;
using System.Reflection;

namespace AspirePerf.AppHost.Local.Launcher;

/// <summary>
/// A .NET project run as <c>dotnet &lt;its dll&gt;</c> in its project folder, with the environment Aspire would inject,
/// and waited on through its <c>/health</c> endpoint like Aspire's <c>WithHttpHealthCheck</c> + <c>WaitFor</c>.
/// </summary>
public sealed class ProjectResource(string name, string projectName, Uri httpEndpoint)
{
    public string Name { get; } = name;

    public string ProjectName { get; } = projectName;

    public Uri HttpEndpoint { get; } = httpEndpoint;

    public ManagedProcess? Process { get; private set; }

    public ManagedProcess Start(IReadOnlyDictionary<string, string?> environment, TextWriter log, Assembly metadataSource)
    {
        var dll = ReadMetadata(metadataSource, $"resource-dll:{ProjectName}");
        var directory = ReadMetadata(metadataSource, $"resource-dir:{ProjectName}");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{Name}: {dll} does not exist; build the solution first (dotnet build).", dll);
        }
        Process = ManagedProcess.Start(Name, "dotnet", [dll], log, environment, directory);
        return Process;
    }

    /// <summary>Polls <c>/health</c> until 200, printing each change of what it answers, until the timeout.</summary>
    public async Task WaitForHealthyAsync(TimeSpan timeout, TextWriter log, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var healthUri = new Uri(HttpEndpoint, "/health");
        var deadline = DateTime.UtcNow + timeout;
        string? lastAnswer = null;
        var polls = 0;
        while (true)
        {
            if (Process is { HasExited: true } exited)
            {
                throw new InvalidOperationException($"{Name} exited with code {exited.ExitCode} before it became healthy:{Environment.NewLine}{exited.RecentOutput}");
            }
            string answer;
            try
            {
                using var response = await http.GetAsync(healthUri, cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                answer = $"{(int)response.StatusCode} {SummarizeFailingChecks(await response.Content.ReadAsStringAsync(cancellationToken))}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                answer = "not listening yet";
            }
            if (answer != lastAnswer)
            {
                log.WriteLine($"[apphost] waiting for {Name} to be healthy: {answer}");
                lastAnswer = answer;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} was not healthy within {timeout.TotalSeconds:0} s; last answer: {answer}");
            }
            // Quick at first (most projects are up in a second), then gentler: every poll of a failing check is logged.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 + polls++ * 100)), cancellationToken);
        }
    }

    /// <summary>"name: description" of each failing check in a JSON health report; the raw text if it is not one.</summary>
    public static string SummarizeFailingChecks(string body)
    {
        try
        {
            using var report = System.Text.Json.JsonDocument.Parse(body);
            var failing = report.RootElement.GetProperty("checks").EnumerateArray()
                .Where(c => c.GetProperty("status").GetString() != "Healthy")
                .Select(c => $"{c.GetProperty("name").GetString()}: {c.GetProperty("description").GetString()}");
            return string.Join("; ", failing);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }

    private static string ReadMetadata(Assembly assembly, string key) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"Assembly metadata '{key}' is missing; is the project referenced with IsResourceProject=\"true\"?");
}
