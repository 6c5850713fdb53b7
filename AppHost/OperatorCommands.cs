using System.Net.Http.Json;
using System.Text.Json;

namespace AspirePerf.AppHost;

/// <summary>
/// The API's operator actions as commands on the apiservice row of the Aspire dashboard. Each calls the API with the
/// AppHost's own operator key (the <c>operator-api-key</c> parameter, which only the AppHost and the API know).
/// </summary>
public static class OperatorCommands
{
    public const string ApiKeyHeader = "X-Api-Key";

    public static IResourceBuilder<ProjectResource> WithOperatorCommands(this IResourceBuilder<ProjectResource> api, IResourceBuilder<ParameterResource> operatorKey)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(operatorKey);

        api.WithHttpCommand("/api/v1/perf/cache/invalidate", "Invalidate the whole cache", commandName: "invalidate-cache",
            commandOptions: Options(operatorKey, HttpMethod.Post, new { all = true },
                "Evicts every cached answer on every API node (memory and Redis).", "Delete",
                confirmation: "Evict every cached answer on every node? The next requests recompute them."));

        api.WithHttpCommand("/api/v1/perf/indexes/advice", "Show index advice", commandName: "index-advice",
            commandOptions: Options(operatorKey, HttpMethod.Get, body: null,
                "Index advice for the current workload, verified with hypothetical indexes and ranked by time saved.", "DatabaseSearch"));

        api.WithHttpCommand("/api/v1/jobs", "Re-run cache warming", commandName: "cache-warm",
            commandOptions: Options(operatorKey, HttpMethod.Post, new { type = "cache-warm", payload = new { }, priority = "high" },
                "Enqueues a cache-warm job: the aggregate queries' default answers are computed into the shared cache.", "ArrowSync"));
        return api;
    }

    private static HttpCommandOptions Options(IResourceBuilder<ParameterResource> operatorKey, HttpMethod method, object? body,
        string description, string icon, string? confirmation = null) => new()
        {
            Method = method,
            Description = description,
            IconName = icon,
            ConfirmationMessage = confirmation,
            PrepareRequest = async context =>
            {
                context.Request.Headers.Add(ApiKeyHeader, await operatorKey.Resource.GetValueAsync(context.CancellationToken).ConfigureAwait(false));
                if (body is not null)
                {
                    context.Request.Content = JsonContent.Create(body);
                }
            },
            GetCommandResult = ResultAsync,
        };

    // The API answers JSON (or a problem document): shown in the dashboard's result dialog, indented.
    private static async Task<ExecuteCommandResult> ResultAsync(HttpCommandResultContext context)
    {
        var text = await context.Response.Content.ReadAsStringAsync(context.CancellationToken).ConfigureAwait(false);
        var pretty = TryIndent(text);
        var status = $"{(int)context.Response.StatusCode} {context.Response.ReasonPhrase}";
        return context.Response.IsSuccessStatusCode
            ? CommandResults.Success($"The API answered {status}.", pretty, CommandResultFormat.Json, true)
            : CommandResults.Failure($"The API answered {status}.", pretty, CommandResultFormat.Json);
    }

    private static string TryIndent(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(document.RootElement, IndentedJson);
        }
        catch (JsonException)
        {
            return json;
        }
    }

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };
}
