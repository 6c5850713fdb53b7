using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace AspirePerf.ApiService.Http;

/// <summary>
/// A request the framework could not bind (empty, truncated or non-object JSON, a wrong content type, an oversized
/// body) is the client's error: its own status (400, 413, 415) as a problem document whose detail names the parameter,
/// the same in every environment, never a 500 or a developer page.
/// </summary>
internal sealed class BadRequestProblemHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest || httpContext.Response.HasStarted)
        {
            return false;
        }
        httpContext.Response.StatusCode = badRequest.StatusCode;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = badRequest.StatusCode,
                Title = badRequest.StatusCode switch
                {
                    StatusCodes.Status413PayloadTooLarge => "Request body too large",
                    StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
                    _ => "Malformed request",
                },
                // The framework's message names the parameter and what was wrong with it, and nothing internal.
                Detail = badRequest.Message,
            },
        });
    }
}
