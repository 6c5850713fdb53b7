using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AspirePerf.Bench.Tests;

/// <summary>
/// A local Kestrel server that answers at once, except while stalled: then every request waits until the stall ends,
/// like a server in a GC pause or behind a lock. Also answers a status code on demand (<c>/status/503</c>).
/// </summary>
public sealed class StallingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile TaskCompletionSource? _stall;

    private StallingServer(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public static async Task<StallingServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new StallingServer(app);
        app.Use(async (context, next) =>
        {
            if (server._stall is { } stall)
            {
                await stall.Task;
            }
            await next(context);
        });
        app.MapGet("/fast", () => "ok");
        app.MapGet("/status/{code:int}", (int code) => Results.StatusCode(code));
        await app.StartAsync();
        server.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    /// <summary>Holds every request (arriving or already in the pipeline's entry) for <paramref name="length"/>.</summary>
    public async Task StallAsync(TimeSpan length)
    {
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stall = stall;
        await Task.Delay(length);
        _stall = null;
        stall.SetResult();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
