using System.Diagnostics.Metrics;

namespace AspirePerf.Performance.Database;

/// <summary>
/// Busy and maximum connections of one Npgsql pool, read in process from Npgsql's own meter (<c>Npgsql</c>:
/// <c>db.client.connection.count</c> by state, <c>db.client.connection.max</c>) with a private listener: Npgsql has no
/// public pool-statistics API, and its observable instruments cost one callback per read, with no SQL.
/// </summary>
public sealed class NpgsqlPoolUsage : IDisposable
{
    private const string MeterName = "Npgsql";
    private const string CountInstrument = "db.client.connection.count";
    private const string MaxInstrument = "db.client.connection.max";

    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Busy, long Max)> _pools = new(StringComparer.Ordinal);

    public NpgsqlPoolUsage()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && instrument.Name is CountInstrument or MaxInstrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Observe(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Observe(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The pool named <paramref name="poolName"/> (NpgsqlDataSourceBuilder.Name), or null before it has reported.</summary>
    public (int Busy, int Max)? Read(string poolName)
    {
        lock (_lock)
        {
            _pools.Clear();
            // Runs the observable instruments' callbacks synchronously; Observe fills _pools under the same (re-entrant) lock.
            _listener.RecordObservableInstruments();
            return _pools.TryGetValue(poolName, out var pool) && pool.Max > 0 ? ((int)pool.Busy, (int)pool.Max) : null;
        }
    }

    private void Observe(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? pool = null;
        string? state = null;
        foreach (var tag in tags)
        {
            if (tag.Key == "db.client.connection.pool.name")
            {
                pool = tag.Value as string;
            }
            else if (tag.Key == "db.client.connection.state")
            {
                state = tag.Value as string;
            }
        }
        if (pool is null)
        {
            return;
        }
        lock (_lock)
        {
            var current = _pools.GetValueOrDefault(pool);
            _pools[pool] = instrument.Name == MaxInstrument ? current with { Max = value }
                : state == "used" ? current with { Busy = current.Busy + value } : current;
        }
    }

    public void Dispose() => _listener.Dispose();
}
