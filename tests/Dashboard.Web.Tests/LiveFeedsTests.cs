using System.Collections.Concurrent;
using AspirePerf.Dashboard.Web.Live;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AspirePerf.Dashboard.Web.Tests;

/// <summary>
/// "One read per source for every viewer, no polling storm": the poll is driven by a fake clock, so every read is one
/// the test asked for. Waits are on events (a read happened, a snapshot arrived) with a generous fail-safe; nothing
/// asserts a duration.
/// </summary>
public sealed class LiveFeedsTests : IAsyncLifetime
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _services = new ServiceCollection().BuildServiceProvider();
    private readonly LiveFeeds _feeds;

    public LiveFeedsTests() =>
        _feeds = new LiveFeeds(_services.GetRequiredService<IServiceScopeFactory>(), _time, NullLogger<LiveFeeds>.Instance);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _feeds.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task Many_subscribers_to_one_key_cost_one_read_per_interval_and_each_gets_every_snapshot()
    {
        var source = new CountingSource();
        // The first read waits until every viewer is subscribed, so all of them get snapshot 1 from the poll itself.
        var everyoneIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.BeforeRead = n => n == 1 ? everyoneIn.Task : Task.CompletedTask;
        var viewers = Enumerable.Range(0, 10).Select(_ => new Viewer<int>()).ToList();
        var subscriptions = viewers.Select(v => _feeds.Subscribe("cache", Interval, source.ReadAsync, v.OnSnapshot)).ToList();
        everyoneIn.SetResult();

        foreach (var viewer in viewers)
        {
            await viewer.WaitForAsync(1);
        }
        Assert.Equal(1, source.Reads);

        for (var tick = 2; tick <= 4; tick++)
        {
            _time.Advance(Interval);
            foreach (var viewer in viewers)
            {
                await viewer.WaitForAsync(tick);
            }
            Assert.Equal(tick, source.Reads);
        }

        Assert.Equal(1, _feeds.ActiveSources);
        Assert.All(viewers, v => Assert.Equal([1, 2, 3, 4], v.Values));
        Assert.All(viewers, v => Assert.All(v.Snapshots, s => Assert.Null(s.Error)));
        subscriptions.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task A_late_subscriber_gets_the_latest_snapshot_at_once_without_a_read_of_its_own()
    {
        var source = new CountingSource();
        var first = new Viewer<int>();
        using var one = _feeds.Subscribe("jobs", Interval, source.ReadAsync, first.OnSnapshot);
        await first.WaitForAsync(1);
        _time.Advance(Interval);
        await first.WaitForAsync(2);

        var late = new Viewer<int>();
        var unused = new CountingSource();
        using var two = _feeds.Subscribe("jobs", Interval, unused.ReadAsync, late.OnSnapshot);
        await late.WaitForAsync(1);

        Assert.Equal([2], late.Values);
        Assert.Equal(_time.GetUtcNow(), late.Snapshots[0].At);
        Assert.Equal(2, source.Reads);
        Assert.Equal(0, unused.Reads);
    }

    [Fact]
    public async Task Viewers_joining_while_snapshots_are_published_get_each_one_once()
    {
        var source = new CountingSource();
        var viewers = new ConcurrentBag<Viewer<int>>();
        var subscriptions = new ConcurrentBag<IDisposable>();
        void Join()
        {
            var viewer = new Viewer<int>();
            viewers.Add(viewer);
            subscriptions.Add(_feeds.Subscribe("overview", Interval, source.ReadAsync, viewer.OnSnapshot));
        }
        Join();
        for (var round = 0; round < 30; round++)
        {
            var joining = Task.Run(() => Parallel.For(0, 4, _ => Join()));
            _time.Advance(Interval);
            await joining;
        }
        // One more read that every viewer gets: after it, nothing of the rounds is still on its way.
        var last = source.Reads + 1;
        var final = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.BeforeRead = n => n == last ? final.Task : Task.CompletedTask;
        while (source.Reads < last)
        {
            _time.Advance(Interval);
            await Task.Yield();
        }
        final.SetResult();
        foreach (var viewer in viewers)
        {
            await viewer.WaitForValueAsync(last);
        }

        Assert.All(viewers, v => Assert.Equal(v.Values.Count, v.Values.Distinct().Count()));
        Assert.Equal(last, source.Reads);
        foreach (var subscription in subscriptions)
        {
            subscription.Dispose();
        }
    }

    [Fact]
    public async Task Distinct_keys_poll_separately_and_deliver_only_their_own_values()
    {
        var cache = new CountingSource(offset: 100);
        var jobs = new CountingSource(offset: 200);
        var cacheViewer = new Viewer<int>();
        var jobsViewer = new Viewer<int>();
        using var a = _feeds.Subscribe("cache", Interval, cache.ReadAsync, cacheViewer.OnSnapshot);
        using var b = _feeds.Subscribe("jobs?page=1", Interval, jobs.ReadAsync, jobsViewer.OnSnapshot);
        await cacheViewer.WaitForAsync(1);
        await jobsViewer.WaitForAsync(1);
        _time.Advance(Interval);
        await cacheViewer.WaitForAsync(2);
        await jobsViewer.WaitForAsync(2);

        Assert.Equal(2, _feeds.ActiveSources);
        Assert.Equal([101, 102], cacheViewer.Values);
        Assert.Equal([201, 202], jobsViewer.Values);
        Assert.Equal(2, cache.Reads);
        Assert.Equal(2, jobs.Reads);
    }

    [Fact]
    public async Task The_last_unsubscribe_stops_the_polling_and_a_new_subscriber_starts_it_again()
    {
        var source = new CountingSource();
        var a = new Viewer<int>();
        var b = new Viewer<int>();
        var subA = _feeds.Subscribe("statements", Interval, source.ReadAsync, a.OnSnapshot);
        var subB = _feeds.Subscribe("statements", Interval, source.ReadAsync, b.OnSnapshot);
        await a.WaitForAsync(1);
        await b.WaitForAsync(1);

        subA.Dispose();
        Assert.Equal(1, _feeds.ActiveSources);
        _time.Advance(Interval);
        await b.WaitForAsync(2);
        Assert.Equal(2, source.Reads);

        subB.Dispose();
        subB.Dispose(); // twice is harmless
        Assert.Equal(0, _feeds.ActiveSources);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(Interval);
        }
        await Quiet();
        Assert.Equal(2, source.Reads);
        Assert.Equal(2, b.Values.Count);

        var again = new CountingSource(offset: 50);
        var c = new Viewer<int>();
        using var subC = _feeds.Subscribe("statements", Interval, again.ReadAsync, c.OnSnapshot);
        await c.WaitForAsync(1);
        Assert.Equal([51], c.Values); // a fresh source: no stale snapshot from before
        _time.Advance(Interval);
        await c.WaitForAsync(2);
        Assert.Equal(2, again.Reads);
        Assert.Equal(2, source.Reads);
    }

    [Fact]
    public async Task No_read_runs_after_the_last_viewer_left_even_with_a_tick_already_due()
    {
        var source = new CountingSource();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var viewer = new Viewer<int> { Hold = release.Task };
        var subscription = _feeds.Subscribe("slow-page", Interval, source.ReadAsync, viewer.OnSnapshot);
        await viewer.WaitForAsync(1);

        // The loop is still delivering snapshot 1 when the next tick falls due and the last viewer leaves.
        _time.Advance(Interval);
        subscription.Dispose();
        release.SetResult();
        await Quiet();

        Assert.Equal(1, source.Reads);
    }

    [Fact]
    public async Task A_failing_read_keeps_the_previous_value_and_says_why()
    {
        var source = new CountingSource { FailOn = n => n == 2 ? new InvalidOperationException("the API answered 503") : null };
        var viewer = new Viewer<int>();
        using var subscription = _feeds.Subscribe("overview", Interval, source.ReadAsync, viewer.OnSnapshot);
        await viewer.WaitForAsync(1);
        var firstAt = viewer.Snapshots[0].At;
        Assert.NotNull(firstAt);

        _time.Advance(Interval);
        await viewer.WaitForAsync(2);
        var failed = viewer.Snapshots[1];
        Assert.Equal(1, failed.Value);
        Assert.Equal(firstAt, failed.At);
        Assert.Equal("the API answered 503", failed.Error);

        _time.Advance(Interval);
        await viewer.WaitForAsync(3);
        var recovered = viewer.Snapshots[2];
        Assert.Equal(3, recovered.Value);
        Assert.Null(recovered.Error);
        Assert.Equal(_time.GetUtcNow(), recovered.At);
    }

    [Fact]
    public async Task A_first_read_that_fails_gives_no_value_and_the_error()
    {
        var source = new CountingSource { FailOn = n => n == 1 ? new HttpRequestException("connection refused") : null };
        var viewer = new Viewer<int>();
        using var subscription = _feeds.Subscribe("resources", Interval, source.ReadAsync, viewer.OnSnapshot);
        await viewer.WaitForAsync(1);

        var snapshot = viewer.Snapshots[0];
        Assert.Equal(0, snapshot.Value);
        Assert.Null(snapshot.At);
        Assert.Equal("connection refused", snapshot.Error);
    }

    [Fact]
    public async Task A_subscriber_that_throws_does_not_stop_the_others()
    {
        var source = new CountingSource();
        var good = new Viewer<int>();
        using var throwsAtOnce = _feeds.Subscribe<int>("endpoints", Interval, source.ReadAsync, _ => throw new ObjectDisposedException("circuit"));
        using var faults = _feeds.Subscribe<int>("endpoints", Interval, source.ReadAsync, _ => Task.FromException(new InvalidOperationException("render failed")));
        using var fine = _feeds.Subscribe("endpoints", Interval, source.ReadAsync, good.OnSnapshot);
        await good.WaitForAsync(1);

        _time.Advance(Interval);
        await good.WaitForAsync(2);
        _time.Advance(Interval);
        await good.WaitForAsync(3);

        Assert.Equal([1, 2, 3], good.Values);
        Assert.Equal(3, source.Reads);
    }

    [Fact]
    public async Task More_than_MaxSources_keys_are_refused_and_closing_one_makes_room()
    {
        var source = new CountingSource();
        var subscriptions = Enumerable.Range(0, LiveFeeds.MaxSources)
            .Select(i => _feeds.Subscribe($"key-{i}", Interval, source.ReadAsync, _ => Task.CompletedTask))
            .ToList();
        Assert.Equal(LiveFeeds.MaxSources, _feeds.ActiveSources);

        var refused = Assert.Throws<LiveSourceLimitException>(() =>
            _feeds.Subscribe("one-too-many", Interval, source.ReadAsync, _ => Task.CompletedTask));
        Assert.Contains(LiveFeeds.MaxSources.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Message, StringComparison.Ordinal);

        // Another viewer of an open key is not a new source.
        using var sameKey = _feeds.Subscribe("key-0", Interval, source.ReadAsync, _ => Task.CompletedTask);
        Assert.Equal(LiveFeeds.MaxSources, _feeds.ActiveSources);

        subscriptions[5].Dispose();
        var viewer = new Viewer<int>();
        using var room = _feeds.Subscribe("now-it-fits", Interval, new CountingSource().ReadAsync, viewer.OnSnapshot);
        await viewer.WaitForAsync(1);
        Assert.Equal(LiveFeeds.MaxSources, _feeds.ActiveSources);
        subscriptions.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task Dispose_stops_every_source_and_refuses_new_subscribers()
    {
        var a = new CountingSource();
        var b = new CountingSource();
        var viewerA = new Viewer<int>();
        var viewerB = new Viewer<int>();
        var subA = _feeds.Subscribe("a", Interval, a.ReadAsync, viewerA.OnSnapshot);
        _feeds.Subscribe("b", Interval, b.ReadAsync, viewerB.OnSnapshot);
        await viewerA.WaitForAsync(1);
        await viewerB.WaitForAsync(1);

        await _feeds.DisposeAsync(); // waits for the loops to end
        Assert.Equal(0, _feeds.ActiveSources);
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(Interval);
        }
        await Quiet();
        Assert.Equal(1, a.Reads);
        Assert.Equal(1, b.Reads);

        subA.Dispose(); // a page leaving after shutdown is harmless
        Assert.Throws<ObjectDisposedException>(() => _feeds.Subscribe("c", Interval, a.ReadAsync, viewerA.OnSnapshot));
    }

    [Fact]
    public void Arguments_are_checked()
    {
        var source = new CountingSource();
        Assert.ThrowsAny<ArgumentException>(() => _feeds.Subscribe("", Interval, source.ReadAsync, _ => Task.CompletedTask));
        Assert.Throws<ArgumentNullException>(() => _feeds.Subscribe<int>("k", Interval, null!, _ => Task.CompletedTask));
        Assert.Throws<ArgumentNullException>(() => _feeds.Subscribe("k", Interval, source.ReadAsync, null!));
        Assert.Equal(0, _feeds.ActiveSources);
    }

    // Gives a loop that should not run a chance to show itself; the assertions after it never depend on its length.
    private static Task Quiet() => Task.Delay(TimeSpan.FromMilliseconds(300));

    /// <summary>A source that counts its reads and answers offset + the read's number.</summary>
    private sealed class CountingSource(int offset = 0)
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public Func<int, Task> BeforeRead { get; set; } = _ => Task.CompletedTask;

        public Func<int, Exception?> FailOn { get; set; } = _ => null;

        public async Task<int> ReadAsync(IServiceProvider services, CancellationToken cancellationToken)
        {
            Assert.NotNull(services);
            var n = Interlocked.Increment(ref _reads);
            await BeforeRead(n);
            if (FailOn(n) is { } failure)
            {
                throw failure;
            }
            return offset + n;
        }
    }

    /// <summary>A page watching a key: records every snapshot, lets the test wait for the n-th.</summary>
    private sealed class Viewer<T>
    {
        private static readonly TimeSpan FailSafe = TimeSpan.FromSeconds(30);
        private readonly ConcurrentQueue<LiveSnapshot<T>> _snapshots = new();
        private readonly SemaphoreSlim _arrived = new(0);

        /// <summary>Holds the delivery (a slow render) until this completes.</summary>
        public Task Hold { get; init; } = Task.CompletedTask;

        public IReadOnlyList<LiveSnapshot<T>> Snapshots => [.. _snapshots];

        public IReadOnlyList<T?> Values => [.. _snapshots.Select(s => s.Value)];

        public async Task OnSnapshot(LiveSnapshot<T> snapshot)
        {
            _snapshots.Enqueue(snapshot);
            _arrived.Release();
            await Hold;
        }

        public async Task WaitForValueAsync(T value)
        {
            while (!_snapshots.Any(s => EqualityComparer<T>.Default.Equals(s.Value!, value)))
            {
                Assert.True(await _arrived.WaitAsync(FailSafe), $"value {value} never arrived");
            }
        }

        public async Task WaitForAsync(int count)
        {
            while (_snapshots.Count < count)
            {
                Assert.True(await _arrived.WaitAsync(FailSafe), $"snapshot {count} never arrived (got {_snapshots.Count})");
            }
        }
    }
}
