using System.Collections.Concurrent;

namespace AspirePerf.Dashboard.Web.Live;

/// <summary>The latest value of a live source, when it was read, and why the last read failed (the value stays).</summary>
public sealed record LiveSnapshot<T>(T? Value, DateTimeOffset? At, string? Error)
{
    public static readonly LiveSnapshot<T> Empty = new(default, null, null);
}

/// <summary>Refused: <see cref="LiveFeeds.MaxSources"/> sources are polling already.</summary>
public sealed class LiveSourceLimitException(string message) : InvalidOperationException(message);

/// <summary>
/// Live data for every open page, one read per source and interval however many pages watch it: each page subscribes to
/// a keyed source, the first subscriber starts its polling loop, the last one to leave stops it, and every subscriber
/// gets each new snapshot pushed over its own circuit. Ten operators on the Cache page cost the API one call every two
/// seconds, not ten (no polling storm). Hand-written because no served package shares one poll among Blazor circuits.
/// </summary>
public sealed class LiveFeeds(IServiceScopeFactory scopes, TimeProvider time, ILogger<LiveFeeds> logger) : IAsyncDisposable
{
    /// <summary>Distinct sources at once: keys come from the choices the pages offer, so this is a guard, not a limit in use.</summary>
    public const int MaxSources = 128;

    private readonly ConcurrentDictionary<string, Source> _sources = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>Sources polling now (for tests and the console's own metrics).</summary>
    public int ActiveSources => _sources.Count;

    /// <summary>
    /// Watches <paramref name="key"/>: <paramref name="read"/> runs every <paramref name="interval"/> while anyone watches,
    /// and <paramref name="onSnapshot"/> gets the latest snapshot at once (if there is one) and then every new one.
    /// Dispose the result to stop watching.
    /// </summary>
    public IDisposable Subscribe<T>(string key, TimeSpan interval, Func<IServiceProvider, CancellationToken, Task<T>> read,
        Func<LiveSnapshot<T>, Task> onSnapshot)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(onSnapshot);
        Source source;
        object? latest;
        var subscriber = new Subscriber(snapshot => onSnapshot((LiveSnapshot<T>)snapshot));
        lock (_gate)
        {
            // A page opening while the host shuts down would start a loop nobody stops.
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_sources.TryGetValue(key, out source!))
            {
                if (_sources.Count >= MaxSources)
                {
                    throw new LiveSourceLimitException($"More than {MaxSources} live sources are open on this console; this part is not live until some pages close.");
                }
                source = new Source(key, interval, async (services, ct) => new LiveSnapshot<T>(await read(services, ct), time.GetUtcNow(), null),
                    (previous, error) => new LiveSnapshot<T>(previous is LiveSnapshot<T> p ? p.Value : default, (previous as LiveSnapshot<T>)?.At, error),
                    LiveSnapshot<T>.Empty);
                _sources[key] = source;
                source.Loop = Task.Run(() => PollAsync(source));
            }
            source.Subscribers.Add(subscriber);
            // Read with the subscriber added, under the lock the poll publishes under: a snapshot published before this
            // is delivered here, one published after by the poll, never both (it used to reach a new page twice).
            latest = source.Latest;
        }
        if (latest is not null && !ReferenceEquals(latest, LiveSnapshot<T>.Empty))
        {
            _ = Deliver(subscriber, latest, key);
        }
        return new Subscription(() => Unsubscribe(source, subscriber));
    }

    private void Unsubscribe(Source source, Subscriber subscriber)
    {
        lock (_gate)
        {
            source.Subscribers.Remove(subscriber);
            if (source.Subscribers.Count == 0)
            {
                _sources.TryRemove(new KeyValuePair<string, Source>(source.Key, source));
                source.Stop.Cancel();
            }
        }
    }

    private async Task PollAsync(Source source)
    {
        using var timer = new PeriodicTimer(source.Interval, time);
        do
        {
            object snapshot;
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                snapshot = await source.Read(scope.ServiceProvider, source.Stop.Token);
            }
            catch (OperationCanceledException) when (source.Stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A failed read keeps the last value and says why; the page shows both.
                logger.LogWarning(ex, "Live source {Source} could not be read", source.Key);
                snapshot = source.Failed(source.Latest, ex.Message);
            }
            Subscriber[] subscribers;
            lock (_gate)
            {
                source.Latest = snapshot;
                subscribers = [.. source.Subscribers];
            }
            await Task.WhenAll(subscribers.Select(s => Deliver(s, snapshot, source.Key)));
        }
        while (await WaitAsync(timer, source.Stop.Token));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task Deliver(Subscriber subscriber, object snapshot, string key)
    {
        try
        {
            await subscriber.OnSnapshot(snapshot);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // One page's failure (a circuit gone mid-render) must not stop the others' updates.
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.LogDebug(ex, "A subscriber of live source {Source} failed", key);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Source[] sources;
        lock (_gate)
        {
            _disposed = true;
            sources = [.. _sources.Values];
            _sources.Clear();
        }
        foreach (var source in sources)
        {
            await source.Stop.CancelAsync();
        }
        await Task.WhenAll(sources.Select(s => s.Loop ?? Task.CompletedTask));
    }

    private sealed class Source(string key, TimeSpan interval, Func<IServiceProvider, CancellationToken, Task<object>> read,
        Func<object?, string, object> failed, object empty)
    {
        public string Key { get; } = key;
        public TimeSpan Interval { get; } = interval;
        public Func<IServiceProvider, CancellationToken, Task<object>> Read { get; } = read;
        public Func<object?, string, object> Failed { get; } = failed;
        public List<Subscriber> Subscribers { get; } = [];
        public CancellationTokenSource Stop { get; } = new();
        public volatile object? Latest = empty;
        public Task? Loop { get; set; }
    }

    // A class, not a record: two pages subscribing with equal delegates are still two subscribers.
    private sealed class Subscriber(Func<object, Task> onSnapshot)
    {
        public Func<object, Task> OnSnapshot { get; } = onSnapshot;
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                dispose();
            }
        }
    }
}
