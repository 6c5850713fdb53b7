using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace AspirePerf.ApiClient;

/// <summary>
/// The generated client over an <see cref="HttpClient"/> the caller configured (base address, handlers, resilience, an
/// <c>X-Api-Key</c> default header): Kiota adds no handlers of its own to a client it is given.
/// </summary>
public static class AspirePerfApiClientFactory
{
    public static AspirePerfApiClient Create(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http);
        if (http.BaseAddress is { } address)
        {
            adapter.BaseUrl = address.OriginalString.TrimEnd('/');
        }
        return new AspirePerfApiClient(adapter);
    }
}
