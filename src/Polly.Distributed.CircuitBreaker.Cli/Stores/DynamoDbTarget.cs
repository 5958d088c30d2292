namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>A DynamoDB table, on AWS or at another endpoint (dynalite, DynamoDB Local), and the attribute of its items' expiry.</summary>
internal sealed class DynamoDbTarget(string tableName, string? endpoint, string? region, string expiryAttribute) : StoreTarget
{
    public string ExpiryAttribute { get; } = expiryAttribute;

    public string TableName { get; } = tableName;

    public string? Endpoint { get; } = endpoint;

    public string? Region { get; } = region;

    // Nothing is sent yet: the client and the store are built, and their settings checked.
    public override Task<ICircuitCatalog> OpenAsync(CliEnvironment environment, TimeSpan requestTimeout, CancellationToken cancellationToken) =>
        Task.FromResult<ICircuitCatalog>(DynamoDbCircuitCatalog.Create(this, environment, requestTimeout));
}
