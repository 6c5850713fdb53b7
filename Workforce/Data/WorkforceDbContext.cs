using Microsoft.EntityFrameworkCore;

namespace AspirePerf.Workforce.Data;

/// <summary>The labor-market workload's database (<c>workforce</c>).</summary>
public sealed class WorkforceDbContext(DbContextOptions<WorkforceDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(WorkforceDbContext).Assembly);
    }
}
