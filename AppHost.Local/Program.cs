using System.Runtime.InteropServices;

namespace AspirePerf.AppHost.Local;

// A named entry point rather than top-level statements: test projects reference this assembly next to services
// whose Program class must stay unambiguous for WebApplicationFactory<Program>.
internal static class LocalAppHostProgram
{
    public static async Task<int> Main(string[] args)
    {
        var options = LocalAppHostOptions.Load(args);
        if (LocalTopology.FindMissingBinary(options) is { } missing)
        {
            Console.Error.WriteLine(missing);
            return 2;
        }

        using var stopping = new CancellationTokenSource();
        // Ctrl+C and SIGTERM both mean: stop every child and both servers, then exit.
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        var log = TextWriter.Synchronized(Console.Out);
        var topology = new LocalTopology(options, log);
        try
        {
            await topology.StartAsync(stopping.Token);
            topology.PrintUrls();
            await Task.Delay(Timeout.Infinite, stopping.Token);
            return 0;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            log.WriteLine("[apphost] stopping");
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"[apphost] start failed: {ex.Message}");
            return 1;
        }
        finally
        {
            await topology.DisposeAsync();
        }
    }
}
