using AspirePerf.Dashboard.Web.Services;

namespace AspirePerf.Dashboard.Web.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        // The dashboard knows the API only over HTTP, found through service discovery (services__apiservice__*).
        builder.Services.AddHttpClient<AspirePerfApiClient>(client => client.BaseAddress = new("https+http://apiservice"));
    }
}
