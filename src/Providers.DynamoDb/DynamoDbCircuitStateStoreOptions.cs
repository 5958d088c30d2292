using Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

namespace Polly.Distributed.CircuitBreaker.DynamoDb;

/// <summary>
/// Options of the <see cref="DynamoDbCircuitStateStore"/>.
/// </summary>
public sealed class DynamoDbCircuitStateStoreOptions
{
    /// <summary>The environment variable whose value is the default <see cref="TableName"/>, as in circuitbreaker-lambda.</summary>
    public const string TableNameEnvironmentVariable = "CIRCUITBREAKER_TABLE";

    /// <summary>The default <see cref="ItemExpiryAttributeName"/>.</summary>
    public const string DefaultItemExpiryAttributeName = "expiresAt";

    /// <summary>
    /// Gets the shortest <see cref="ItemExpiry"/>: an hour, longer than any failure window or probe lease a breaker keeps in
    /// the item, and shorter than DynamoDB's own delay in deleting expired items, so a shorter one would gain nothing.
    /// </summary>
    public static TimeSpan MinimumItemExpiry { get; } = TimeSpan.FromHours(1);

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

    /// <summary>
    /// Gets or sets how long an item is kept once everything it holds is over, so that circuits no longer used leave the table:
    /// every write sets <see cref="ItemExpiryAttributeName"/> to the epoch second at which this much time has passed after the
    /// latest of the write, the break (<c>nextAttempt</c>) and the probe lease, and DynamoDB's time to live deletes the item
    /// some time after it (up to days later). An isolated circuit gets no expiry. <see langword="null"/> sets none.
    /// </summary>
    /// <remarks>
    /// Choose it longer than the breakers' FailureWindow, MaxBreakDuration and ProbeLeaseDuration, and enable time to live on
    /// the table for the attribute (<see cref="DynamoDbCircuitStateStore.CreateTableIfNotExistsAsync"/> does). A circuit whose
    /// item was deleted starts closed again.
    /// </remarks>
    /// <value>Defaults to <see langword="null"/> (items are kept forever); when set, at least <see cref="MinimumItemExpiry"/>.</value>
    public TimeSpan? ItemExpiry { get; set; }

    /// <summary>
    /// Gets or sets the attribute (<c>N</c>, epoch seconds) that holds an item's expiry, the table's time-to-live attribute.
    /// It is this store's own: an isolation removes it even when <see cref="ItemExpiry"/> is not set, so a process without the
    /// option (an operator's tool) never leaves an isolated circuit to expire.
    /// </summary>
    /// <value>Defaults to <c>expiresAt</c>.</value>
    public string ItemExpiryAttributeName { get; set; } = DefaultItemExpiryAttributeName;

    internal DynamoDbItemExpiry Expiry => new(ItemExpiry, ItemExpiryAttributeName);

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

        if (ItemExpiry is { } expiry && (expiry < MinimumItemExpiry || expiry > DynamoDbItemExpiry.Longest))
        {
            throw new ArgumentException(
                $"The DynamoDB {nameof(ItemExpiry)} {expiry} is out of range: use {MinimumItemExpiry} to {DynamoDbItemExpiry.Longest.TotalDays:0} days, longer than the breakers' FailureWindow, MaxBreakDuration and ProbeLeaseDuration, or null to keep items forever.");
        }

        if (string.IsNullOrEmpty(ItemExpiryAttributeName) || ItemExpiryAttributeName.Length > 255 || DynamoDbItemExpiry.IsReserved(ItemExpiryAttributeName))
        {
            throw new ArgumentException(
                $"The DynamoDB {nameof(ItemExpiryAttributeName)} '{ItemExpiryAttributeName}' is invalid: use 1 to 255 characters naming no attribute of the circuit schema.");
        }
    }
}
