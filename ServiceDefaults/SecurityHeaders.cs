using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Security headers on every response a service sends: successes, errors, problem documents and streams alike
/// (set when the response starts, whoever writes it). HSTS only over HTTPS, where a browser honours it.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>For documents that are data, not pages: nothing may load, nothing may frame them.</summary>
    public const string DataPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    /// <summary>
    /// For server-rendered pages that load their own scripts and styles only. Inline styles stay allowed (component
    /// style attributes); the WebSocket of an interactive page is same-origin, which 'self' covers.
    /// </summary>
    public const string PagePolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

    /// <summary>Adds the headers; <paramref name="contentSecurityPolicy"/> picks the policy for a request (by path, say).</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app, Func<HttpContext, string> contentSecurityPolicy)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(contentSecurityPolicy);
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.ContentSecurityPolicy = contentSecurityPolicy(context);
                if (context.Request.IsHttps)
                {
                    headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
                }
                return Task.CompletedTask;
            });
            return next(context);
        });
    }
}
