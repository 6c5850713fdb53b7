using Microsoft.Net.Http.Headers;

namespace AspirePerf.ApiService.Http;

/// <summary>Cache-Control per route class, and validation of a client's cached copy against an entity tag.</summary>
internal static class CacheHeaders
{
    /// <summary>Operator, performance, job and system answers are live state: never stored by anyone.</summary>
    public static TBuilder WithNoStore<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            context.HttpContext.Response.Headers.CacheControl = "no-store";
            return await next(context);
        });

    /// <summary>
    /// Whether the client's <c>If-None-Match</c> already names <paramref name="etag"/> (weak comparison, as RFC 9110
    /// requires for this header), so a 304 with no body answers it.
    /// </summary>
    public static bool ClientHasCurrent(HttpRequest request, string etag)
    {
        if (request.Headers.IfNoneMatch.Count == 0 || !EntityTagHeaderValue.TryParseList(request.Headers.IfNoneMatch, out var tags))
        {
            return false;
        }
        var current = new EntityTagHeaderValue(etag);
        return tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false));
    }
}
