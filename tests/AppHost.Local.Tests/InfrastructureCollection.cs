using AspirePerf.TestSupport;

namespace AspirePerf.AppHost.Local.Tests;

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "infrastructure";
}
