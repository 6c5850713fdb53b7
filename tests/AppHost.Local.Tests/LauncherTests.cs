using AspirePerf.AppHost.Local.Launcher;
using AspirePerf.TestSupport;
using Npgsql;

namespace AspirePerf.AppHost.Local.Tests;

public sealed class LauncherTests
{
    [Theory]
    [InlineData("--PostgresBinDirectory=/nonexistent", "postgres not found", "postgresql-15")]
    [InlineData("--RedisBinDirectory=/nonexistent", "redis-server not found", "apt-get install redis-server")]
    public async Task A_missing_server_binary_ends_the_host_with_one_line_naming_it_and_its_package(string setting, string binary, string package)
    {
        var dataDirectory = TestDirectories.CreateTraversable("aspireperf-missing");
        var output = new LineCapture();
        try
        {
            var host = ManagedProcess.Start("apphost", "dotnet", [typeof(LocalTopology).Assembly.Location, setting, $"--DataDirectory={dataDirectory}"], output);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await host.WaitForExitAsync(timeout.Token);

            Assert.Equal(2, host.ExitCode);
            var line = Assert.Single(output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.Contains(binary, line, StringComparison.Ordinal);
            Assert.Contains(package, line, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(dataDirectory));
        }
        finally
        {
            TestDirectories.TryDelete(dataDirectory);
        }
    }

    [Fact]
    public async Task A_second_start_reuses_the_cluster_and_its_data()
    {
        var root = TestDirectories.CreateTraversable("aspireperf-reuse");
        var log = new LineCapture();
        var options = TestServers.PostgresOptions(Path.Combine(root, "postgres"));
        try
        {
            await using (var first = await PostgresServer.StartAsync(options, log))
            {
                await first.CreateDatabaseAsync("kept");
                await ExecuteAsync(first.ConnectionStringFor("kept"), "CREATE TABLE marker (id int); INSERT INTO marker VALUES (42);");
            }
            var initialisations = CountInitialisations(log.Text);

            await using var second = await PostgresServer.StartAsync(options, log);
            var value = await ExecuteAsync(second.ConnectionStringFor("kept"), "SELECT id FROM marker");

            Assert.Equal(1, initialisations);
            Assert.Equal(1, CountInitialisations(log.Text));
            Assert.Equal(42, value);
            Assert.Contains("pg_stat_statements", second.PreloadedLibraries);
        }
        finally
        {
            TestDirectories.TryDelete(root);
        }
    }

    private static int CountInitialisations(string log) =>
        log.Split('\n').Count(l => l.Contains("initialising a new cluster", StringComparison.Ordinal));

    private static async Task<object?> ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
