using System.Diagnostics;
using AspirePerf.Performance.Jobs;
using AspirePerf.TestSupport;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.Worker.Tests;

/// <summary>
/// The real Worker (its built dll, a child process) leases an export and is killed (SIGKILL) mid-job. Another
/// processor rescues the job once the dead worker's lease expires, runs it again, and it ends completed once.
/// The export is held mid-query by a table lock the test takes, so "mid-job" is certain, not a race.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class KilledWorkerProcessTests(InfrastructureFixture infrastructure)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_killed_worker_process_job_runs_again_elsewhere_after_its_lease_expires_and_completes_exactly_once()
    {
        var db = await infrastructure.CreateDatabaseAsync("killed_worker");
        await WorkforceDatabase.InitializeAsync(db);
        await using var client = await JobHost.StartAsync(db, _ => { }, process: false);
        var dataSource = client.Services.GetRequiredService<NpgsqlDataSource>();

        // Hold the export's query: an exclusive lock on the table it reads, in a transaction kept open.
        await using var locker = await dataSource.OpenConnectionAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("LOCK TABLE employment_spells IN ACCESS EXCLUSIVE MODE", locker, lockTransaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        using var worker = StartWorkerProcess(db, infrastructure.Redis.ConnectionString);
        try
        {
            var job = await client.Queue.EnqueueAsync(ExportJob.TypeName, new ExportJob("region-sector-heatmap")
            {
                Parameters = new() { ["asOf"] = "2025-06-30" },
            });
            var leased = await Eventually.ReturnsAsync(() => client.Queue.GetAsync(job.Id),
                j => j!.State == JobState.Running && j.LeaseOwner!.Contains($"/{worker.Id}/", StringComparison.Ordinal),
                Patience, "the worker process leased the export");
            Assert.Equal(1, leased!.Attempt);

            worker.Kill(entireProcessTree: true);
            await worker.WaitForExitAsync();
            await lockTransaction.RollbackAsync();

            // A second worker (in this process, the Worker's own export handler) takes over after the lease expires.
            await using var survivor = await JobHost.StartAsync(db, services =>
            {
                services.AddWorkforceQueries(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
                services.AddWorkforceJobHandlers();
            });
            var done = await Eventually.ReturnsAsync(() => client.Queue.GetAsync(job.Id), j => j!.State == JobState.Completed, Patience, "export completed");
            Assert.Equal(2, done!.Attempt);
            Assert.Equal(survivor.Processor.Owner, done.LeaseOwner);
            var rescue = Assert.Single(done.Errors);
            Assert.Contains("lease expired", rescue.Error, StringComparison.Ordinal);
            Assert.Contains($"/{worker.Id}/", rescue.Error, StringComparison.Ordinal);
            Assert.True(done.Result!.Value.GetProperty("rows").GetInt32() > 0);
            // Completed once: one file, one completion; nothing more can happen to a final job.
            Assert.Equal(1L, await CountAsync(dataSource, "SELECT count(DISTINCT job_id) FROM jobs.job_files WHERE job_id = $1", job.Id));
            await Task.Delay(500);
            Assert.Equal(JobState.Completed, (await client.Queue.GetAsync(job.Id))!.State);
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>The built Worker as a child process on this database and Redis; <paramref name="environment"/> adds or overrides settings.</summary>
    internal static Process StartWorkerProcess(string connectionString, string cacheConnectionString, IReadOnlyDictionary<string, string>? environment = null)
    {
        // The Worker's build output sits beside this test project's: artifacts/bin/AspirePerf.Worker/<configuration>/.
        var testDirectory = Path.GetDirectoryName(typeof(KilledWorkerProcessTests).Assembly.Location)!;
        var workerDll = Path.GetFullPath(Path.Combine(testDirectory, "..", "..", "AspirePerf.Worker", Path.GetFileName(testDirectory), "AspirePerf.Worker.dll"));
        Assert.True(File.Exists(workerDll), $"{workerDll} is not built");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(workerDll);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["ConnectionStrings__workforce"] = connectionString;
        start.Environment["ConnectionStrings__cache"] = cacheConnectionString;
        start.Environment["Seeding__Enabled"] = "false";
        start.Environment["Queries__StatementTimeoutMs"] = "600000";
        start.Environment["Jobs__LeaseDuration"] = "00:00:02";
        start.Environment["Jobs__PollInterval"] = "00:00:00.200";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start)!;
        // Drain its output so a full pipe never blocks it.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql, long id)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = id });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
