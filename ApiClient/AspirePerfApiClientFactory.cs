using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace AspirePerf.ApiClient;

/// <summary>
/// The generated client over an <see cref="HttpClient"/> the caller configured (base address, handlers, resilience, an
/// <c>X-Api-Key</c> default header): Kiota adds no handlers of its own to a client it is given.
/// </summary>
public static class AspirePerfApiClientFactory
{
    public static AspirePerfApiClient Create(HttpClient http) => new(CreateAdapter(http));

    /// <summary>The request adapter under <see cref="Create"/>, for a caller that sends a request its own way (as a stream).</summary>
    public static HttpClientRequestAdapter CreateAdapter(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http);
        if (http.BaseAddress is { } address)
        {
            adapter.BaseUrl = address.OriginalString.TrimEnd('/');
        }
        return adapter;
    }
}
