using Microsoft.Extensions.Hosting;

namespace AspirePerf.ServiceDefaults.Tests;

public sealed class PrometheusNameTests
{
    [Fact]
    public void Every_renamed_instrument_loses_the_count_suffix_prometheus_reserves_for_histograms()
    {
        Assert.All(Extensions.PrometheusSafeNames, pair =>
        {
            Assert.EndsWith(".count", pair.Key, StringComparison.Ordinal);
            Assert.DoesNotContain("count", pair.Value, StringComparison.Ordinal);
        });
    }
}
