using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspirePerf.Bench;

/// <summary>
/// The ceiling for the HTTP-surface benchmark: a minimal API on Kestrel with nothing else in the pipeline (no logging,
/// no telemetry, no auth, no rate limits, no compression), answering every GET of <c>/</c> with the same constant
/// JSON body of <c>--bytes</c> bytes the API's <c>/api/v1/system/constant</c> sends (<c>{"padding":"xxx…"}</c>).
/// It runs as its own process (the benchmark starts it as a child) so it does not share a runtime with the load
/// generator's process.
/// </summary>
public static class BareKestrel
{
    public static async Task<int> RunAsync(string[] args)
    {
        var port = Options.Int(args, "--port", 5399);
        var bytes = Options.Int(args, "--bytes", 4096);
        if (bytes < 16)
        {
            Console.Error.WriteLine("--bytes must be at least 16.");
            return 2;
        }
        var body = ConstantBody(bytes);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://localhost:{port}");
        var app = builder.Build();
        app.MapGet("/", () => Results.Bytes(body, "application/json"));
        await app.StartAsync();
        // The parent waits for this line before loading.
        Console.WriteLine($"bare-kestrel listening on http://localhost:{port}, {bytes} bytes");
        await app.WaitForShutdownAsync();
        return 0;
    }

    /// <summary>The API's constant body, byte for byte: <c>{"padding":"</c> + x… + <c>"}</c>, exactly <paramref name="bytes"/> long.</summary>
    public static byte[] ConstantBody(int bytes) =>
        System.Text.Encoding.UTF8.GetBytes("{\"padding\":\"" + new string('x', bytes - 14) + "\"}");
}
