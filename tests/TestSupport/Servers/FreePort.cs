using System.Net;
using System.Net.Sockets;

namespace AspirePerf.TestSupport.Servers;

public static class FreePort
{
    /// <summary>A loopback port the OS reports free right now (tests start servers on these).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
