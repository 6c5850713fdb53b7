using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspirePerf.Performance.Jobs;

/// <summary>
/// One LISTEN connection per process for the queue's channels; processors subscribe instead of each holding a
/// connection. Notifications only wake fetchers early: if the connection drops, subscribers are woken once it is
/// back (anything sent meanwhile is found by that fetch), and polling covers the gap.
/// </summary>
public sealed partial class JobNotificationListener(NpgsqlDataSource dataSource, TimeProvider time, ILogger<JobNotificationListener> logger)
    : BackgroundService
{
    private readonly Lock _gate = new();
    private Action<string, string>[] _subscribers = [];

    public bool Listening { get; private set; }

    /// <summary>Called with (channel, payload) on the listener's thread: keep it short (signal, don't work).</summary>
    public IDisposable Subscribe(Action<string, string> onNotification)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers, onNotification];
        }
        return new Subscription(this, onNotification);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => Publish(e.Channel, e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresJobQueue.InsertChannel}; LISTEN {PostgresJobQueue.CancelChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }
                Listening = true;
                failures = 0;
                Publish(PostgresJobQueue.InsertChannel, "listening");
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Listening = false;
                failures++;
                LogListenFailed(ex, failures);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, failures)), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        Listening = false;
    }

    private void Publish(string channel, string payload)
    {
        foreach (var subscriber in _subscribers)
        {
            subscriber(channel, payload);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Job notification listener failed ({Failures} in a row); reconnecting, polling meanwhile")]
    private partial void LogListenFailed(Exception ex, int failures);

    private sealed class Subscription(JobNotificationListener owner, Action<string, string> callback) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._subscribers = [.. owner._subscribers.Where(s => s != callback)];
            }
        }
    }
}
