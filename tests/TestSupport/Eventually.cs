namespace AspirePerf.TestSupport;

/// <summary>Polls a condition until it holds or a generous deadline passes (behaviour, not speed, is asserted).</summary>
public static class Eventually
{
    public static async Task<T> ReturnsAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T last;
        while (true)
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:0} s; last value: {last}");
            }
            await Task.Delay(200);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        ReturnsAsync(() => Task.FromResult(condition()), done => done, timeout, what);
}
