using AspirePerf.Bench.Sla;

namespace AspirePerf.Bench.Tests;

/// <summary>
/// The load models against a local server: the open model's schedule is exact (every due request is sent or counted as
/// dropped), its latency runs from the intended start so a server stall shows in every request that was due during it
/// (coordinated omission corrected), while the closed model, which waits for the server, sees the stall once.
/// No assertion here is about how fast anything runs: they check what was counted and what a 1 s stall looks like.
/// </summary>
public sealed class LoadRunnerTests : IAsyncLifetime
{
    private StallingServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await StallingServer.StartAsync();
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { BaseAddress = _server.Address };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private static SlaScenario Scenario(LoadModel model, double rate = 100, int maxInFlight = 512, int users = 1, string path = "/fast") => new("test")
    {
        Model = model,
        Rate = rate,
        MaxInFlight = maxInFlight,
        Users = users,
        Requests = [new SlaRequest("fast") { Path = path }],
    };

    private static RequestPlan Plan(SlaScenario scenario) => new(scenario, new Dictionary<string, IReadOnlyList<ParameterSchema>>(), 1);

    [Fact]
    public void Request_i_is_due_at_i_over_the_rate()
    {
        Assert.Equal(TimeSpan.Zero, LoadRunner.IntendedStart(0, 50));
        Assert.Equal(TimeSpan.FromMilliseconds(20), LoadRunner.IntendedStart(1, 50));
        Assert.Equal(TimeSpan.FromSeconds(10), LoadRunner.IntendedStart(500, 50));
        Assert.Equal(TimeSpan.FromSeconds(1.0 / 3), LoadRunner.IntendedStart(1, 3));
    }

    [Fact]
    public async Task The_open_model_sends_exactly_the_scheduled_requests_of_the_measured_phase_when_the_server_keeps_up()
    {
        var scenario = Scenario(LoadModel.Open, rate: 200);

        var recording = await new LoadRunner(_http).RunAsync(scenario, Plan(scenario), 1, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(2), null, CancellationToken.None);
        var result = ScenarioResult.From(recording, null);

        // Due in [0.5 s, 2.5 s) at 200/s: requests 100 … 499, whatever the timing of this machine.
        Assert.Equal(400, recording.Scheduled);
        Assert.Equal(400, recording.Sent);
        Assert.Equal(0, recording.Dropped);
        Assert.Equal(400, recording.Completed);
        Assert.Equal(200, result.AchievedRate);
        Assert.Equal(400, result.Outcomes["200"]);
        Assert.Equal(0, result.ErrorRate);
    }

    [Fact]
    public async Task A_server_stall_shows_in_every_request_due_during_it_in_the_open_model_and_once_in_the_closed_model()
    {
        var open = Scenario(LoadModel.Open, rate: 100);
        var closed = Scenario(LoadModel.Closed, users: 1);
        var duration = TimeSpan.FromSeconds(3);

        var openRun = new LoadRunner(_http).RunAsync(open, Plan(open), 1, TimeSpan.Zero, duration, null, CancellationToken.None);
        await Task.Delay(1000);
        await _server.StallAsync(TimeSpan.FromSeconds(1));
        var openResult = ScenarioResult.From(await openRun, null);

        var closedRun = new LoadRunner(_http).RunAsync(closed, Plan(closed), 1, TimeSpan.Zero, duration, null, CancellationToken.None);
        await Task.Delay(1000);
        await _server.StallAsync(TimeSpan.FromSeconds(1));
        var closedResult = ScenarioResult.From(await closedRun, null);

        // Open: about 100 of 300 requests fell due during the 1 s stall, waiting up to 1 s each from their intended
        // start; a tenth of all requests waited at least 300 ms.
        Assert.Equal(300, openResult.Scheduled);
        Assert.InRange(openResult.Latency.Max, 900, 60_000);
        Assert.InRange(openResult.Latency.P90, 300, 60_000);
        // Closed: the one user waited once; every other request found the server idle, so the tail hides the stall
        // (the coordinated omission the open model corrects).
        Assert.InRange(closedResult.Latency.Max, 900, 60_000);
        Assert.True(closedResult.Latency.P90 * 3 < openResult.Latency.P90,
            $"closed p90 {closedResult.Latency.P90} ms vs open p90 {openResult.Latency.P90} ms");
        Assert.True(closedResult.Completed > openResult.Completed / 3, "the closed user kept sending after the stall");
    }

    [Fact]
    public async Task Requests_due_while_max_in_flight_are_pending_are_dropped_and_counted_never_silently_lost()
    {
        var scenario = Scenario(LoadModel.Open, rate: 100, maxInFlight: 5);

        var run = new LoadRunner(_http).RunAsync(scenario, Plan(scenario), 1, TimeSpan.Zero, TimeSpan.FromSeconds(2), null, CancellationToken.None);
        await Task.Delay(500);
        await _server.StallAsync(TimeSpan.FromSeconds(1));
        var result = ScenarioResult.From(await run, null);

        Assert.Equal(200, result.Scheduled);
        Assert.Equal(result.Scheduled, result.Sent + result.Dropped);
        // ~100 fell due during the 1 s stall, and only 5 can be pending; a slow machine drops more, never fewer.
        Assert.True(result.Dropped >= 50, $"{result.Dropped} dropped");
        Assert.True(result.Sent >= scenario.MaxInFlight);
        Assert.False(result.Sla.Holds);
        Assert.Contains(result.Sla.Breaches, b => b.Contains("dropped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Errors_are_counted_by_status_and_breach_the_error_limit()
    {
        var scenario = Scenario(LoadModel.Closed, users: 2, path: "/status/503") with
        {
            Requests = [new SlaRequest("failing") { Path = "/status/503" }, new SlaRequest("fine") { Path = "/fast" }],
            Targets = new() { ["p99"] = 60_000 },
        };

        var result = ScenarioResult.From(await new LoadRunner(_http).RunAsync(scenario, Plan(scenario), 1, TimeSpan.Zero, TimeSpan.FromSeconds(1), null, CancellationToken.None), null);

        Assert.True(result.Outcomes["503"] > 0);
        Assert.True(result.Outcomes["200"] > 0);
        Assert.Equal(result.Outcomes["503"], result.Endpoints.Single(e => e.Name == "failing").Errors);
        Assert.Equal(0, result.Endpoints.Single(e => e.Name == "fine").Errors);
        Assert.InRange(result.ErrorRate, 0.2, 0.8);
        Assert.Contains(result.Sla.Breaches, b => b.StartsWith("error rate", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Sla.Breaches, b => b.StartsWith("p99", StringComparison.Ordinal));
    }
}
