using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

namespace Polly.Distributed.CircuitBreaker.DynamoDb;

/// <summary>
/// Keeps circuit state in a DynamoDB table, one item per circuit, in the item schema of circuitbreaker-lambda v1.x.
/// </summary>
/// <remarks>
/// Every request goes through this class: <c>GetItem</c> to read, <c>UpdateItem</c> with <c>SET</c> to write (never
/// <c>PutItem</c>, so attributes written by others survive and the IAM policy needs only <c>dynamodb:GetItem</c> and
/// <c>dynamodb:UpdateItem</c>). Conditional writes require every owned attribute to be as read. With
/// <see cref="DynamoDbCircuitStateStoreOptions.ItemExpiry"/> set, every write also sets the item's expiry; an item read
/// after its expiry, before DynamoDB deleted it, is read as stored: it was written to expire only once all it holds is over.
/// </remarks>
public sealed class DynamoDbCircuitStateStore : ICircuitStateStore, IDisposable
{
    private static readonly TimeSpan WarmUpTimeout = TimeSpan.FromSeconds(5);

    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly DynamoDbCircuitStateStoreOptions _options;
    private readonly DynamoDbItemExpiry _expiry;
    private readonly string _projection;
    private readonly Dictionary<string, string> _projectionNames;

    /// <summary>Initializes a new instance of the <see cref="DynamoDbCircuitStateStore"/> class.</summary>
    /// <param name="client">The DynamoDB client; the caller keeps ownership.</param>
    /// <param name="options">The store options.</param>
    /// <exception cref="ArgumentException">The table name is missing or invalid.</exception>
    public DynamoDbCircuitStateStore(IAmazonDynamoDB client, DynamoDbCircuitStateStoreOptions options)
        : this(client, options, ownsClient: false)
    {
    }

    internal DynamoDbCircuitStateStore(IAmazonDynamoDB client, DynamoDbCircuitStateStoreOptions options, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        _client = client;
        _ownsClient = ownsClient;
        _options = options;
        _expiry = options.Expiry;
        _projectionNames = CircuitSnapshotSchema.OwnedAttributes
            .Prepend(CircuitSnapshotSchema.IdAttribute)
            .Append(CircuitSnapshotSchema.FailingEnvironmentsAttribute)
            .ToDictionary(name => "#" + name, name => name, StringComparer.Ordinal);
        _projection = string.Join(", ", _projectionNames.Keys);
    }

    /// <summary>Gets the table name.</summary>
    public string TableName => _options.TableName!;

    // The client, for tests of the one the DI extension builds.
    internal IAmazonDynamoDB Client => _client;

    // The endpoint the client talks to, for messages.
    internal string Endpoint => _client.Config.ServiceURL ?? _client.Config.RegionEndpoint?.SystemName ?? "the default AWS endpoint";

    /// <inheritdoc/>
    public async ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        return await ReadCoreAsync(circuitId, _options.ConsistentRead, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(snapshot);

        var request = NewUpdate(circuitId);
        DynamoDbCircuitItem.SetUpdate(request, snapshot, _expiry);
        DynamoDbCircuitItem.SetNotNewerCondition(request, snapshot.StateTimestampUnixMs);
        try
        {
            await SendAsync("UpdateItem", circuitId, request, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            // A newer state is stored: the write is skipped, and the caller decides again on what is stored.
            return false;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<CircuitWriteResult> TryReplaceAsync(
        string circuitId,
        StoredCircuit expected,
        CircuitSnapshot replacement,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(replacement);

        // A token from another store (or a cached unconditional write) cannot prove anything: report a conflict with the fresh item.
        if (expected.ConcurrencyToken is not DynamoDbItemVersion version)
        {
            return new CircuitWriteResult(false, await ReadCoreAsync(circuitId, consistent: true, cancellationToken).ConfigureAwait(false));
        }

        var request = NewUpdate(circuitId);
        DynamoDbCircuitItem.SetUpdate(request, replacement, _expiry);
        DynamoDbCircuitItem.SetUnchangedCondition(request, version);
        return await SendConditionalAsync(circuitId, request, _ => DynamoDbCircuitItem.Written(replacement), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<CircuitWriteResult> TryClaimProbeAsync(
        string circuitId,
        string owner,
        long leaseExpiresUnixMs,
        long nowUnixMs,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(owner);

        var request = NewUpdate(circuitId);
        request.ReturnValues = ReturnValue.ALL_NEW;
        DynamoDbCircuitItem.SetProbeClaim(request, owner, leaseExpiresUnixMs, nowUnixMs, _expiry);
        return await SendConditionalAsync(circuitId, request, response => DynamoDbCircuitItem.ToEntry(response.Attributes), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One <c>UpdateItem</c> with <c>ADD</c> counts the failure (a second one starts a new failure window), and a second
    /// conditional <c>UpdateItem</c> opens the circuit for the request whose count reached the threshold. Without a quorum,
    /// a count that already reached the threshold counts nothing more (<see cref="CircuitIncrementOutcome.NotCounted"/>
    /// with the closed item): only the request that reached it opens, and the breaker reads such an item as the OPEN that
    /// request makes, so the fleet need not wait for the opening to get through a queue of counts. When the request's
    /// <see cref="CircuitFailureIncrement.LastSeenFailureCount"/> says this failure reaches the threshold, one conditional
    /// <c>UpdateItem</c> first tries to count and open together, on exactly that count. Each request's id
    /// is kept in the item until the circuit next changes state, so a request that the SDK retried after it was applied
    /// counts once and keeps its opening. <paramref name="cancellationToken"/> cancels the requests not answered yet: a count
    /// the table applied before stays counted, and a count that reached the threshold without opening the circuit is opened
    /// by the next failure counted.
    /// </remarks>
    public async ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(
        string circuitId,
        CircuitFailureIncrement increment,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(increment);

        var openWriteId = DynamoDbCircuitItem.ShortWriteId(increment.WriteId) + ":open";
        var quorum = increment.MinimumEnvironments > 1;
        if (!quorum && increment.LastSeenFailureCount is { } expected && expected + increment.Count >= increment.FailureThreshold)
        {
            // The uncontended opening in one request; when the hint is stale, the count below goes the usual way.
            var countAndOpen = NewUpdate(circuitId);
            countAndOpen.ReturnValues = ReturnValue.ALL_NEW;
            DynamoDbCircuitItem.SetCountAndOpen(countAndOpen, increment, expected, openWriteId, _expiry);
            var (openedAtOnce, openedItem) = await SendIdempotentAsync(circuitId, countAndOpen, openWriteId, cancellationToken).ConfigureAwait(false);
            if (openedAtOnce)
            {
                return new CircuitIncrementResult(CircuitIncrementOutcome.CountedAndOpened, DynamoDbCircuitItem.ToEntry(openedItem));
            }
        }

        var counted = await CountFailureAsync(circuitId, increment, cancellationToken).ConfigureAwait(false);
        if (counted.Outcome == CircuitIncrementOutcome.NotCounted
            || counted.Current.Snapshot.State != StoredCircuitState.Closed
            || counted.Current.Snapshot.FailureCount < increment.FailureThreshold
            || (quorum && counted.Current.Snapshot.FailingEnvironments.Count < increment.MinimumEnvironments))
        {
            return counted;
        }

        if (!quorum)
        {
            increment.ThresholdReached?.Invoke(counted.Current);
        }

        var request = NewUpdate(circuitId);
        request.ReturnValues = ReturnValue.ALL_NEW;
        DynamoDbCircuitItem.SetOpenAtThreshold(request, increment, openWriteId, _expiry);
        var (opened, item) = await SendIdempotentAsync(circuitId, request, openWriteId, cancellationToken).ConfigureAwait(false);
        return new CircuitIncrementResult(
            opened ? CircuitIncrementOutcome.CountedAndOpened : CircuitIncrementOutcome.Counted,
            DynamoDbCircuitItem.ToEntry(item));
    }

    /// <summary>
    /// Reads a circuit id that no breaker uses, to check at start-up that the table and endpoint answer, and to warm the
    /// connection (TLS, credentials, code paths) so the first real call fits in the breaker's store timeout. On AWS Lambda,
    /// call it from the function's constructor: the init phase is not billed as an invocation and is not bound by the store timeout.
    /// Needs only <c>dynamodb:GetItem</c>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A task that completes when the table answered.</returns>
    /// <exception cref="CircuitStateStoreException">
    /// The table is missing, or the endpoint cannot be reached or does not answer within 5 seconds (well inside Lambda's
    /// 10-second init phase); the message names both.
    /// </exception>
    public async Task WarmUpAsync(CancellationToken cancellationToken = default)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(WarmUpTimeout);
        try
        {
            await ReadCoreAsync("polly-distributed-warm-up", consistent: false, bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CircuitStateStoreException(
                $"DynamoDB GetItem on table '{TableName}' at {Endpoint} did not answer within {WarmUpTimeout.TotalSeconds:0} s.",
                ex);
        }
    }

    /// <summary>
    /// Creates the table (partition key <c>id</c> of type string, on-demand billing) unless it exists, and waits until it is active.
    /// With <see cref="DynamoDbCircuitStateStoreOptions.ItemExpiry"/> set, it then enables time to live on
    /// <see cref="DynamoDbCircuitStateStoreOptions.ItemExpiryAttributeName"/> unless it is enabled; a local server without time
    /// to live (dynalite) is left as it is, and keeps every item.
    /// Needs <c>dynamodb:DescribeTable</c> and <c>dynamodb:CreateTable</c>, and with an expiry <c>dynamodb:DescribeTimeToLive</c>
    /// and <c>dynamodb:UpdateTimeToLive</c>, which the breaker itself never uses.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the table is active.</returns>
    /// <exception cref="InvalidOperationException">Time to live is enabled on the table for another attribute.</exception>
    public async Task CreateTableIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _client.CreateTableAsync(
                new CreateTableRequest
                {
                    TableName = TableName,
                    AttributeDefinitions = [new AttributeDefinition(CircuitSnapshotSchema.IdAttribute, ScalarAttributeType.S)],
                    KeySchema = [new KeySchemaElement(CircuitSnapshotSchema.IdAttribute, KeyType.HASH)],
                    BillingMode = BillingMode.PAY_PER_REQUEST,
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceInUseException)
        {
            // The table exists already.
        }

        while (true)
        {
            var table = await _client.DescribeTableAsync(TableName, cancellationToken).ConfigureAwait(false);
            if (table.Table.TableStatus == TableStatus.ACTIVE)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }

        if (_expiry.TimeToLive is not null)
        {
            await EnableTimeToLiveAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private async Task EnableTimeToLiveAsync(CancellationToken cancellationToken)
    {
        var described = await _client.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = TableName }, cancellationToken).ConfigureAwait(false);
        if (described.TimeToLiveDescription is { } current && (current.TimeToLiveStatus == TimeToLiveStatus.ENABLED || current.TimeToLiveStatus == TimeToLiveStatus.ENABLING))
        {
            if (current.AttributeName == _expiry.AttributeName)
            {
                return;
            }

            throw new InvalidOperationException(
                $"The DynamoDB table '{TableName}' at {Endpoint} has time to live on '{current.AttributeName}', not on '{_expiry.AttributeName}' (a table has one): " +
                $"set {nameof(DynamoDbCircuitStateStoreOptions)}.{nameof(DynamoDbCircuitStateStoreOptions.ItemExpiryAttributeName)} to '{current.AttributeName}'.");
        }

        try
        {
            await _client.UpdateTimeToLiveAsync(
                new UpdateTimeToLiveRequest
                {
                    TableName = TableName,
                    TimeToLiveSpecification = new TimeToLiveSpecification { AttributeName = _expiry.AttributeName, Enabled = true },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonDynamoDBException ex) when (ex.ErrorCode == "UnknownOperationException")
        {
            // A local server without time to live (dynalite): the expiry is still written, and nothing is deleted.
        }
    }

    private UpdateItemRequest NewUpdate(string circuitId) => new()
    {
        TableName = TableName,
        Key = DynamoDbCircuitItem.Key(circuitId),
    };

    private async Task<StoredCircuit> ReadCoreAsync(string circuitId, bool consistent, CancellationToken cancellationToken) =>
        DynamoDbCircuitItem.ToEntry(await ReadItemAsync(circuitId, consistent, projection: true, cancellationToken).ConfigureAwait(false));

    private async Task<Dictionary<string, AttributeValue>?> ReadItemAsync(string circuitId, bool consistent, bool projection, CancellationToken cancellationToken)
    {
        var request = new GetItemRequest
        {
            TableName = TableName,
            Key = DynamoDbCircuitItem.Key(circuitId),
            ConsistentRead = consistent,
        };

        if (projection)
        {
            request.ProjectionExpression = _projection;
            request.ExpressionAttributeNames = _projectionNames;
        }

        try
        {
            var response = await _client.GetItemAsync(request, cancellationToken).ConfigureAwait(false);
            return response.Item;
        }
        catch (Exception ex) when (IsClientError(ex))
        {
            throw Describe("GetItem", circuitId, ex);
        }
    }

    private async Task<CircuitIncrementResult> CountFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken)
    {
        // Each turn follows a change by another writer (a new window or episode began, the kept write ids filled up, the
        // quorum's set filled up): a few turns at most.
        var writeId = DynamoDbCircuitItem.ShortWriteId(increment.WriteId);
        Dictionary<string, AttributeValue>? item = null;
        FailureCountVariant? sent = null;
        for (var turn = 0; turn < 6; turn++)
        {
            var variant = DynamoDbCircuitItem.FailureCountVariantFor(item, seen: turn > 0, increment);
            if (variant == sent || (variant is { Restart: false, IdsFull: true } && !DynamoDbCircuitItem.CountsPastThreshold(increment)))
            {
                break;
            }

            var request = NewUpdate(circuitId);
            request.ReturnValues = ReturnValue.ALL_NEW;
            if (variant.Restart)
            {
                DynamoDbCircuitItem.SetFailureCountRestart(request, increment, writeId, _expiry);
            }
            else
            {
                DynamoDbCircuitItem.SetFailureIncrement(request, increment, writeId, variant, _expiry);
            }

            bool applied;
            (applied, item) = await SendIdempotentAsync(circuitId, request, writeId, cancellationToken).ConfigureAwait(false);
            if (applied)
            {
                return new CircuitIncrementResult(CircuitIncrementOutcome.Counted, DynamoDbCircuitItem.ToEntry(item));
            }

            sent = variant;
        }

        return new CircuitIncrementResult(CircuitIncrementOutcome.NotCounted, DynamoDbCircuitItem.ToEntry(item));
    }

    /// <summary>
    /// Sends a conditional update that records <paramref name="writeId"/>. A condition failure on an item that already holds
    /// the id means an earlier attempt of this same request was applied (the SDK retried after losing the response).
    /// </summary>
    private async Task<(bool Applied, Dictionary<string, AttributeValue>? Item)> SendIdempotentAsync(
        string circuitId,
        UpdateItemRequest request,
        string writeId,
        CancellationToken cancellationToken)
    {
        var (applied, response, conflict) = await SendUnlessConflictAsync(circuitId, request, cancellationToken).ConfigureAwait(false);
        return applied ? (true, response!.Attributes) : (DynamoDbCircuitItem.Recorded(conflict, writeId), conflict);
    }

    private async Task<CircuitWriteResult> SendConditionalAsync(
        string circuitId,
        UpdateItemRequest request,
        Func<UpdateItemResponse, StoredCircuit> written,
        CancellationToken cancellationToken)
    {
        var (applied, response, conflict) = await SendUnlessConflictAsync(circuitId, request, cancellationToken).ConfigureAwait(false);
        return new CircuitWriteResult(applied, applied ? written(response!) : DynamoDbCircuitItem.ToEntry(conflict));
    }

    /// <summary>Sends a conditional update; on a condition failure, returns the item that blocked it.</summary>
    private async Task<(bool Applied, UpdateItemResponse? Response, Dictionary<string, AttributeValue>? Conflict)> SendUnlessConflictAsync(
        string circuitId,
        UpdateItemRequest request,
        CancellationToken cancellationToken)
    {
        if (_options.ReturnItemOnConditionFailure)
        {
            request.ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure.ALL_OLD;
        }

        try
        {
            return (true, await SendAsync("UpdateItem", circuitId, request, cancellationToken).ConfigureAwait(false), null);
        }
        catch (ConditionalCheckFailedException conflict)
        {
            // Servers that ignore ReturnValuesOnConditionCheckFailure return no item: read it, consistently and whole.
            var item = conflict.Item is { Count: > 0 } returned
                ? returned
                : await ReadItemAsync(circuitId, consistent: true, projection: false, cancellationToken).ConfigureAwait(false);
            return (false, null, item);
        }
    }

    private async Task<UpdateItemResponse> SendAsync(string operation, string circuitId, UpdateItemRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.UpdateItemAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ConditionalCheckFailedException && IsClientError(ex))
        {
            throw Describe(operation, circuitId, ex);
        }
    }

    // TimeoutException: the SDK's answer when an attempt outlasts the client's Timeout, which is not the caller's cancellation.
    private static bool IsClientError(Exception ex) => ex is AmazonServiceException or AmazonClientException or HttpRequestException or TimeoutException;

    private CircuitStateStoreException Describe(string operation, string circuitId, Exception ex)
    {
        var problem = ex is ResourceNotFoundException
            ? $"the table '{TableName}' does not exist at {Endpoint}"
            : $"{ex.GetType().Name}: {ex.Message}";
        return new CircuitStateStoreException(
            $"DynamoDB {operation} for circuit '{circuitId}' on table '{TableName}' at {Endpoint} failed: {problem}",
            ex)
        {
            Kind = KindOf(ex),
        };
    }

    private static CircuitStateStoreFailureKind KindOf(Exception ex) => ex switch
    {
        ProvisionedThroughputExceededException or RequestLimitExceededException => CircuitStateStoreFailureKind.Throttled,
        AmazonServiceException { ErrorCode: "ThrottlingException" or "ThrottlingReasons" } => CircuitStateStoreFailureKind.Throttled,
        TimeoutException => CircuitStateStoreFailureKind.Timeout,
        HttpRequestException => CircuitStateStoreFailureKind.Unreachable,
        AmazonServiceException or AmazonClientException when ex.InnerException is HttpRequestException or System.Net.Sockets.SocketException => CircuitStateStoreFailureKind.Unreachable,
        _ => CircuitStateStoreFailureKind.Other,
    };
}
