namespace Polly.Distributed.CircuitBreaker.DynamoDb;

/// <summary>
/// Options of the <see cref="DynamoDbCircuitStateStore"/>.
/// </summary>
public sealed class DynamoDbCircuitStateStoreOptions
{
    /// <summary>The environment variable whose value is the default <see cref="TableName"/>, as in circuitbreaker-lambda.</summary>
    public const string TableNameEnvironmentVariable = "CIRCUITBREAKER_TABLE";

    /// <summary>
    /// Gets or sets the table: partition key <c>id</c> (string), no sort key.
    /// </summary>
    /// <value>Defaults to the value of the <c>CIRCUITBREAKER_TABLE</c> environment variable.</value>
    public string? TableName { get; set; } = Environment.GetEnvironmentVariable(TableNameEnvironmentVariable);

    /// <summary>
    /// Gets or sets a value indicating whether reads are strongly consistent. Eventually consistent reads cost half as much;
    /// in atomic mode a stale read only costs a retry, because every write is conditional.
    /// </summary>
    /// <value>Defaults to <see langword="false"/>.</value>
    public bool ConsistentRead { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether a failed conditional write asks DynamoDB to return the item that blocked it
    /// (<c>ReturnValuesOnConditionCheckFailure</c>), saving a read. Servers that ignore it are handled with a consistent read.
    /// </summary>
    /// <value>Defaults to <see langword="true"/>.</value>
    public bool ReturnItemOnConditionFailure { get; set; } = true;

    /// <summary>
    /// Gets or sets the endpoint of a DynamoDB-compatible server, such as <c>http://127.0.0.1:8000</c>, used when the store
    /// builds its own client (no <c>IAmazonDynamoDB</c> is registered).
    /// </summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Gets or sets the AWS region used when the store builds its own client; the SDK's default chain applies when unset.</summary>
    public string? Region { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(TableName))
        {
            throw new ArgumentException(
                $"The DynamoDB circuit state table is not set: set {nameof(DynamoDbCircuitStateStoreOptions)}.{nameof(TableName)} or the {TableNameEnvironmentVariable} environment variable.");
        }

        if (TableName.Length is < 3 or > 255 || !TableName.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw new ArgumentException(
                $"The DynamoDB table name '{TableName}' is invalid: use 3 to 255 characters of A-Z a-z 0-9 _ - .");
        }

        if (ServiceUrl is not null && !Uri.TryCreate(ServiceUrl, UriKind.Absolute, out _))
        {
            throw new ArgumentException($"The DynamoDB {nameof(ServiceUrl)} '{ServiceUrl}' is not an absolute URL.");
        }
    }
}
