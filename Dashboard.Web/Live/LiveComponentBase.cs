using AspirePerf.Dashboard.Web.Extensions;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;

namespace AspirePerf.Dashboard.Web.Live;

/// <summary>
/// A page or part fed by <see cref="LiveFeeds"/>: <see cref="Watch{T}"/> subscribes once the component is interactive
/// (a prerender reads nothing), each snapshot re-renders it over its circuit, and leaving the page unsubscribes.
/// </summary>
public abstract class LiveComponentBase : ComponentBase, IDisposable
{
    private readonly List<IDisposable> _subscriptions = [];

    [Inject] protected LiveFeeds Feeds { get; set; } = default!;

    [Inject] protected IOptions<ConsoleOptions> ConsoleOptions { get; set; } = default!;

    /// <summary>
    /// Watches the shared source <paramref name="key"/> (the same key means the same data: pages share its reads);
    /// <paramref name="apply"/> runs on the component's dispatcher with each snapshot. Dispose the result to stop
    /// watching early (a filter changed); the rest stop when the component goes.
    /// </summary>
    protected IDisposable Watch<T>(string key, Func<IServiceProvider, CancellationToken, Task<T>> read, Action<LiveSnapshot<T>> apply,
        TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(apply);
        if (!RendererInfo.IsInteractive)
        {
            return EmptyDisposable.Instance;
        }
        IDisposable subscription;
        try
        {
            subscription = Feeds.Subscribe(key, interval ?? ConsoleOptions.Value.RefreshInterval, read,
                snapshot => InvokeAsync(() =>
                {
                    apply(snapshot);
                    StateHasChanged();
                }));
        }
        catch (LiveSourceLimitException ex)
        {
            // Too many sources open on this console: this part says so and stays still; the page itself keeps working.
            apply(new LiveSnapshot<T>(default, null, ex.Message));
            return EmptyDisposable.Instance;
        }
        _subscriptions.Add(subscription);
        return subscription;
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
        _subscriptions.Clear();
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class EmptyDisposable : IDisposable
    {
        public static readonly EmptyDisposable Instance = new();

        public void Dispose()
        {
        }
    }
}
