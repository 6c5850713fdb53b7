using System.Collections.Concurrent;
using System.Net;
using System.Text;
using AspirePerf.Dashboard.Web.Monitoring;
using Microsoft.Extensions.Configuration;

namespace AspirePerf.Dashboard.Web.Tests;

/// <summary>Prometheus's HTTP API answers (as Prometheus 2.x writes them) through a stub handler.</summary>
public sealed class PrometheusClientTests
{
    private const string RangeAnswer = """
        {"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"http_route":"/api/v1/queries/{id}","job":"apiservice"},
           "values":[[1764505200,"0.012"],[1764505215,"0.0135"],[1764505230,"NaN"],[1764505245,"+Inf"],[1764505260,"1.5e-2"]]},
          {"metric":{"http_route":"/api/v1/jobs","job":"apiservice"},"values":[[1764505200.5,"3"]]}
        ]}}
        """;

    [Fact]
    public async Task A_range_query_gives_each_series_its_labels_and_finite_points()
    {
        var stub = new StubPrometheus(_ => (HttpStatusCode.OK, RangeAnswer));
        var client = stub.Client();

        var series = await client.RangeAsync("""sum by (http_route) (rate(x{job="apiservice"}[1m]))""", TimeSpan.FromMinutes(5), 60, default);

        Assert.Equal(2, series.Count);
        var queries = series[0];
        Assert.Equal("/api/v1/queries/{id}", queries.Label("http_route"));
        Assert.Equal("", queries.Label("instance"));
        // NaN (no requests) and +Inf (beyond the last bucket) are not points on a chart.
        Assert.Equal([0.012, 0.0135, 0.015], queries.Points.Select(p => p.Value));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1764505200), queries.Points[0].At);
        Assert.Equal(0.015, queries.Last);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1764505200500), series[1].Points[0].At);
        Assert.Equal([12.0, 13.5, 15.0], queries.Chart("p95", 1000).Points.Select(p => Math.Round(p.Value, 6)));

        var request = Assert.Single(stub.Requests);
        Assert.Equal("/api/v1/query_range", request.AbsolutePath);
        var query = System.Web.HttpUtility.ParseQueryString(request.Query);
        Assert.Equal("""sum by (http_route) (rate(x{job="apiservice"}[1m]))""", query["query"]);
        Assert.Equal("5", query["step"]); // 300 s over 60 points
        Assert.Equal(300, long.Parse(query["end"]!, System.Globalization.CultureInfo.InvariantCulture) - long.Parse(query["start"]!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(1, 2, "1")]       // at least a second
    [InlineData(3600, 1, "1800")] // at least two points
    [InlineData(86400, 100_000, "144")] // at most MaxPoints
    public async Task The_step_keeps_the_points_within_bounds(int windowSeconds, int points, string step)
    {
        var stub = new StubPrometheus(_ => (HttpStatusCode.OK, """{"status":"success","data":{"resultType":"matrix","result":[]}}"""));

        Assert.Empty(await stub.Client().RangeAsync("up", TimeSpan.FromSeconds(windowSeconds), points, default));

        Assert.Equal(step, System.Web.HttpUtility.ParseQueryString(stub.Requests.Single().Query)["step"]);
    }

    [Fact]
    public async Task An_instant_query_gives_one_sample_per_series_and_none_for_NaN_or_infinity()
    {
        var stub = new StubPrometheus(_ => (HttpStatusCode.OK, """
            {"status":"success","data":{"resultType":"vector","result":[
              {"metric":{"http_route":"/a"},"value":[1764505260.123,"0.25"]},
              {"metric":{"http_route":"/b"},"value":[1764505260.123,"NaN"]},
              {"metric":{"http_route":"/c"},"value":[1764505260.123,"+Inf"]},
              {"metric":{"http_route":"/d"},"value":[1764505260.123,"-Inf"]}
            ]}}
            """));

        var series = await stub.Client().InstantAsync("histogram_quantile(0.99, x)", default);

        Assert.Equal(["/a", "/b", "/c", "/d"], series.Select(s => s.Label("http_route")));
        Assert.Equal([0.25, null, null, null], series.Select(s => s.Last));
        Assert.Equal("/api/v1/query", stub.Requests.Single().AbsolutePath);
    }

    [Fact]
    public async Task Alerts_are_read_with_name_severity_state_summary_and_since_when()
    {
        var stub = new StubPrometheus(_ => (HttpStatusCode.OK, """
            {"status":"success","data":{"alerts":[
              {"labels":{"alertname":"ApiHighLatency","severity":"warning","job":"apiservice"},
               "annotations":{"summary":"p95 above 500 ms for 5 minutes","description":"…"},
               "state":"firing","activeAt":"2026-11-30T13:25:16.123456789Z","value":"6.1e-01"},
              {"labels":{"alertname":"JobsDeadLettered"},"annotations":{},"state":"pending","activeAt":"not a time","value":"1e+00"}
            ]}}
            """));

        var alerts = await stub.Client().AlertsAsync(default);

        Assert.Equal(2, alerts.Count);
        Assert.Equal(new PrometheusAlert("ApiHighLatency", "warning", "firing", "p95 above 500 ms for 5 minutes",
            new DateTimeOffset(2026, 11, 30, 13, 25, 16, TimeSpan.Zero).AddTicks(1234567)), alerts[0]);
        Assert.Equal(new PrometheusAlert("JobsDeadLettered", "", "pending", "", null), alerts[1]);
        Assert.Equal("/api/v1/alerts", stub.Requests.Single().AbsolutePath);
    }

    [Fact]
    public async Task A_refused_query_says_what_Prometheus_said()
    {
        var stub = new StubPrometheus(_ => (HttpStatusCode.BadRequest,
            """{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected right parenthesis ')'"}"""));

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => stub.Client().InstantAsync("rate)", default));

        Assert.Equal("Prometheus answered 400: 1:5: parse error: unexpected right parenthesis ')'", refused.Message);
    }

    [Fact]
    public async Task An_answer_that_is_not_JSON_is_an_HTTP_error_naming_the_status()
    {
        // A proxy or a Prometheus still starting answers with text or HTML, not Prometheus's JSON.
        var stub = new StubPrometheus(_ => (HttpStatusCode.ServiceUnavailable, "Service Unavailable"));

        var failed = await Assert.ThrowsAsync<HttpRequestException>(() => stub.Client().InstantAsync("up", default));

        Assert.StartsWith("Prometheus answered 503", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_Prometheus_configured_nothing_is_sent()
    {
        var stub = new StubPrometheus(_ => (HttpStatusCode.OK, "{}"));
        var client = new PrometheusClient(stub.Http(), new ConfigurationBuilder().Build());

        Assert.False(client.Configured);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.InstantAsync("up", default));
        Assert.Empty(stub.Requests);
    }

    [Fact]
    public async Task Route_latencies_join_the_rate_with_each_quantile_by_route()
    {
        var stub = new StubPrometheus(uri =>
        {
            var query = System.Web.HttpUtility.ParseQueryString(uri.Query)["query"]!;
            Assert.Contains("[15m]", query, StringComparison.Ordinal);
            Assert.Contains("""job="apiservice", http_route!="" """, query, StringComparison.Ordinal);
            return (HttpStatusCode.OK, query switch
            {
                _ when query.StartsWith("sum by (http_route) (rate(", StringComparison.Ordinal) =>
                    Vector(("/api/v1/queries/{id}", "12.5"), ("/api/v1/jobs", "0.2"), ("/api/v1/idle", "0"), ("/api/v1/analyses/{id}", "1")),
                _ when query.StartsWith("histogram_quantile(0.5,", StringComparison.Ordinal) =>
                    Vector(("/api/v1/queries/{id}", "0.004"), ("/api/v1/jobs", "0.002"), ("/api/v1/analyses/{id}", "0.9")),
                _ when query.StartsWith("histogram_quantile(0.9,", StringComparison.Ordinal) =>
                    Vector(("/api/v1/queries/{id}", "0.02"), ("/api/v1/jobs", "0.005"), ("/api/v1/analyses/{id}", "4")),
                _ when query.StartsWith("histogram_quantile(0.95,", StringComparison.Ordinal) =>
                    Vector(("/api/v1/queries/{id}", "0.05"), ("/api/v1/jobs", "0.008"), ("/api/v1/analyses/{id}", "+Inf"), ("/api/v1/unknown", "1")),
                _ when query.StartsWith("histogram_quantile(0.99,", StringComparison.Ordinal) =>
                    Vector(("/api/v1/queries/{id}", "0.25"), ("/api/v1/jobs", "NaN"), ("/api/v1/analyses/{id}", "+Inf")),
                _ => throw new InvalidOperationException("unexpected query " + query),
            });
        });

        var routes = await RouteLatencies.ReadAsync(stub.Client(), HistoryWindow.Find("15m", "5m"), default);

        Assert.Equal(5, stub.Requests.Count);
        // Ordered by p95, slowest first; an idle route (rate 0) and a route with no rate are left out.
        Assert.Equal(["/api/v1/queries/{id}", "/api/v1/jobs", "/api/v1/analyses/{id}"], routes.Select(r => r.Route));
        var queries = routes[0];
        Assert.Equal(12.5, queries.RequestsPerSecond);
        Assert.Equal([4.0, 20.0, 50.0, 250.0], new[] { queries.P50Ms, queries.P90Ms, queries.P95Ms, queries.P99Ms }.Select(v => Math.Round(v!.Value, 6)));
        Assert.Null(routes[1].P99Ms); // NaN: no sample in the window
        var analyses = routes[2];
        Assert.Equal(900, analyses.P50Ms!.Value, 6);
        Assert.Null(analyses.P95Ms); // beyond the histogram's last bucket: no figure rather than a wrong one
        Assert.Null(analyses.P99Ms);
    }

    [Fact]
    public void A_history_window_is_one_of_the_offered_ones()
    {
        Assert.Equal(TimeSpan.FromHours(1), HistoryWindow.Find("1h", "5m").Span);
        Assert.Equal("5m", HistoryWindow.Find("1h); drop", "5m").Name);
        Assert.Equal("15m", HistoryWindow.Find(null, "15m").Name);
        Assert.Equal(["5m", "15m", "1h", "6h", "24h"], HistoryWindow.All.Select(w => w.Name));
    }

    private static string Vector(params (string Route, string Value)[] samples) =>
        """{"status":"success","data":{"resultType":"vector","result":[""" +
        string.Join(",", samples.Select(s => $$"""{"metric":{"http_route":"{{s.Route}}"},"value":[1764505260,"{{s.Value}}"]}""")) +
        "]}}";

    private sealed class StubPrometheus(Func<Uri, (HttpStatusCode Status, string Body)> answer) : HttpMessageHandler
    {
        public ConcurrentQueue<Uri> Requests { get; } = new();

        public HttpClient Http() => new(this) { BaseAddress = new Uri("http://prometheus") };

        public PrometheusClient Client() => new(Http(), new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["services:prometheus:http:0"] = "http://localhost:59090" })
            .Build());

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Enqueue(request.RequestUri!);
            var (status, body) = answer(request.RequestUri!);
            var json = body.TrimStart().StartsWith('{');
            return Task.FromResult(new HttpResponseMessage(status)
            {
                Content = new StringContent(body, Encoding.UTF8, json ? "application/json" : "text/plain"),
            });
        }
    }
}
