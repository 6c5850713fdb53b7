using System.Globalization;
using System.Text.Json;
using AspirePerf.ApiClient;
using AspirePerf.Dashboard.Web.Operators;
using Microsoft.Kiota.Abstractions;
using Microsoft.Net.Http.Headers;

namespace AspirePerf.Dashboard.Web.Jobs;

/// <summary>
/// <c>GET /jobs/{id}/download</c>: a job's file (an export) from the API, relayed to the browser as it arrives. The browser
/// never sees an API key: the console adds the signed-in operator's (from the encrypted cookie), or none, which is all
/// the API asks of a read unless it requires readers (then the console's own configured key goes with every call).
/// </summary>
public static class JobDownloads
{
    // A problem body is a few hundred bytes; more is not a problem document.
    private const int MaxProblemBytes = 16 * 1024;

    public static void MapJobDownloads(this IEndpointRouteBuilder app) =>
        app.MapGet("/jobs/{id}/download", DownloadAsync).ExcludeFromDescription();

    private static async Task DownloadAsync(string id, HttpContext context, IHttpClientFactory clients, ILoggerFactory loggers)
    {
        // The route takes any text so that junk gets a problem naming the field, not a bare 404.
        if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var jobId) || jobId <= 0)
        {
            await Results.ValidationProblem(new Dictionary<string, string[]> { ["id"] = ["Must be a job id: a positive whole number."] },
                title: "Invalid job id").ExecuteAsync(context);
            return;
        }

        var key = context.User.OperatorKey();
        // The generated operation reads its 200 as JSON (the API's other form of it), which would buffer a whole export;
        // the same request sent as a Stream is read headers-first, and Kiota's native response handler hands back the
        // HTTP response unread, so the file streams through with its own content type and name.
        // The console's client for the API: service discovery, resilience, its own key if any.
        using var adapter = AspirePerfApiClientFactory.CreateAdapter(clients.CreateClient(Extensions.Extensions.ApiHttpClient));
        var request = new AspirePerfApiClient(adapter).Api.V1.Jobs[jobId].Result.ToGetRequestInformation(request =>
        {
            request.Headers.Add("Accept", "*/*");
            if (key is not null)
            {
                request.Headers.Add(OperatorAccess.ApiKeyHeader, key);
            }
        });
        var native = new NativeResponseHandler();
        request.AddRequestOptions([new ResponseHandlerOption { ResponseHandler = native }]);
        try
        {
            await adapter.SendPrimitiveAsync<Stream>(request, cancellationToken: context.RequestAborted);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Polly.ExecutionRejectedException && !context.RequestAborted.IsCancellationRequested)
        {
            var logger = loggers.CreateLogger(typeof(JobDownloads));
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.LogWarning(ex, "The API did not answer for job {JobId}'s result", jobId);
            }
            await Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "API unavailable",
                detail: "The API did not answer; try again in a moment.").ExecuteAsync(context);
            return;
        }

        using var response = native.Value as HttpResponseMessage
            ?? throw new InvalidOperationException("Kiota's native response handler gave no response.");
        if (!response.IsSuccessStatusCode)
        {
            await RelayProblemAsync(context, response, jobId);
            return;
        }

        var headers = response.Content.Headers;
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = headers.ContentType?.ToString() ?? "application/octet-stream";
        if (headers.ContentLength is { } length)
        {
            context.Response.ContentLength = length;
        }
        var fileName = headers.ContentDisposition?.FileNameStar ?? headers.ContentDisposition?.FileName?.Trim('"')
            ?? string.Create(CultureInfo.InvariantCulture, $"job-{jobId}.json");
        var disposition = new ContentDispositionHeaderValue("attachment");
        disposition.SetHttpFileName(fileName);
        context.Response.Headers.ContentDisposition = disposition.ToString();
        context.Response.Headers.CacheControl = "no-store";
        // Copied in small buffers as it arrives: an export of a million rows never sits in the console's memory.
        await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        await body.CopyToAsync(context.Response.Body, 64 * 1024, context.RequestAborted);
    }

    private static async Task RelayProblemAsync(HttpContext context, HttpResponseMessage response, long jobId)
    {
        var status = (int)response.StatusCode;
        string? title = null, detail = null;
        if (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true
            && response.Content.Headers.ContentLength is null or <= MaxProblemBytes)
        {
            try
            {
                var bytes = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
                if (bytes.Length <= MaxProblemBytes)
                {
                    using var problem = JsonDocument.Parse(bytes);
                    title = problem.RootElement.TryGetProperty("title", out var t) ? t.GetString() : null;
                    detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
                }
            }
            catch (JsonException)
            {
                // Not a problem document: the status alone is said below.
            }
        }
        detail ??= status switch
        {
            StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden => "The API requires a key to read job results: sign in as an operator.",
            _ => string.Create(CultureInfo.InvariantCulture, $"The API answered {status} for job {jobId}'s result."),
        };
        await Results.Problem(statusCode: status, title: title ?? "No file", detail: detail).ExecuteAsync(context);
    }
}
