using System.Net;
using AspirePerf.ApiClient;
using AspirePerf.Dashboard.Web.Live;
using AspirePerf.Dashboard.Web.Monitoring;
using AspirePerf.Dashboard.Web.Operators;
using AspirePerf.Dashboard.Web.Sla;
using Microsoft.FluentUI.AspNetCore.Components;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware;

namespace AspirePerf.Dashboard.Web.Extensions;

internal static class Extensions
{
    /// <summary>The named HttpClient to the API (service discovery, resilience, the console's own key if configured).</summary>
    public const string ApiHttpClient = "apiservice";

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddFluentUIComponents();
        builder.AddOperatorAccess();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<LiveFeeds>();
        builder.Services.AddSlaResults();
        // History across nodes and restarts: Prometheus, when the AppHost runs it (services__prometheus__http__0).
        builder.Services.AddHttpClient<PrometheusClient>(client => client.BaseAddress = new("http://prometheus"));
        builder.Services.Configure<ConsoleOptions>(builder.Configuration.GetSection(ConsoleOptions.Section));
        // The dashboard knows the API only over HTTP, found through service discovery (services__apiservice__*), through
        // the client Kiota generates from the API's document (ApiClient/).
        var api = builder.Services.AddHttpClient(ApiHttpClient, client =>
        {
            client.BaseAddress = new("https+http://apiservice");
            // The resilience handler below owns the timeouts.
            client.Timeout = Timeout.InfiniteTimeSpan;
            // Needed only where the API requires a reader key for reads (ApiKeys:RequireReaderForReads).
            if (builder.Configuration["Dashboard:ApiKey"] is { Length: > 0 } key)
            {
                client.DefaultRequestHeaders.Add("X-Api-Key", key);
            }
        })
        // Kiota's handler that hands response headers (X-Exec-Time) to a caller that asks for them.
        .AddHttpMessageHandler(() => new HeadersInspectionHandler());
        builder.Services.AddTransient(services => AspirePerfApiClientFactory.Create(
            services.GetRequiredService<IHttpClientFactory>().CreateClient(ApiHttpClient)));

        // The ServiceDefaults handler (10 s per attempt, retry on any 5xx) would cut a query off before the API's own
        // statement timeout (30 s by default) answers, then run it again; and a 504 from that timeout repeats
        // identically, so it is not retried. RemoveAllResilienceHandlers is how Aspire's docs replace the default
        // handler for one client; it is only marked experimental.
#pragma warning disable EXTEXP0001
        api.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        api.AddStandardResilienceHandler(options =>
        {
            options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(40);
            options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(90);
            options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(80);
            options.Retry.ShouldHandle = args => ValueTask.FromResult(
                args.Outcome.Result?.StatusCode != HttpStatusCode.GatewayTimeout
                && HttpClientResiliencePredicates.IsTransient(args.Outcome));
        });
    }
}
