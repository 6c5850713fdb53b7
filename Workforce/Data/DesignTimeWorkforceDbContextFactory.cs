using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace AspirePerf.Workforce.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running host or database.</summary>
public sealed class DesignTimeWorkforceDbContextFactory : IDesignTimeDbContextFactory<WorkforceDbContext>
{
    public WorkforceDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<WorkforceDbContext>().UseNpgsql("Host=localhost;Database=workforce");
        WorkforceDbContext.Configure(options);
        return new(options.Options);
    }
}
