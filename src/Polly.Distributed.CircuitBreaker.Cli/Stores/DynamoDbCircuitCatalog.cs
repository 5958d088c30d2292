using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>
/// The circuits of a DynamoDB table. Listing needs <c>dynamodb:Scan</c>, which breakers never use; reading one circuit needs
/// <c>dynamodb:GetItem</c>, and changes <c>dynamodb:UpdateItem</c>, as for breakers. Items are parsed by the store's own mapping.
/// </summary>
internal sealed class DynamoDbCircuitCatalog : ICircuitCatalog
{
    // Error codes with which DynamoDB (or STS behind it) refuses the signature or the key itself, as opposed to a missing permission.
    private static readonly HashSet<string> RefusedCredentialCodes = new(StringComparer.Ordinal)
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    };

    private static readonly HashSet<string> ThrottlingCodes = new(StringComparer.Ordinal)
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    };

    private readonly AmazonDynamoDBClient _client;
    private readonly DynamoDbCircuitStateStore _store;
    private readonly string _tableName;
    private readonly string _endpoint;
    private readonly string _expiryAttribute;

    private DynamoDbCircuitCatalog(AmazonDynamoDBClient client, DynamoDbCircuitStateStore store, string tableName, string endpoint, string expiryAttribute, TimeSpan requestTimeout)
    {
        _client = client;
        _expiryAttribute = expiryAttribute;
        _store = store;
        _tableName = tableName;
        _endpoint = endpoint;
        RequestTimeout = requestTimeout;
    }

    public string Location => $"DynamoDB table '{_tableName}' at {_endpoint}";

    public ICircuitStateStore Store => _store;

    public TimeSpan RequestTimeout { get; }

    public static DynamoDbCircuitCatalog Create(DynamoDbTarget target, CliEnvironment environment, TimeSpan requestTimeout)
    {
        var options = new DynamoDbCircuitStateStoreOptions
        {
            TableName = target.TableName,
            ServiceUrl = target.Endpoint,
            Region = target.Region,

            // So that an isolation removes the expiry the breakers set, whatever the attribute is called.
            ItemExpiryAttributeName = target.ExpiryAttribute,

            // An operator's decision must rest on the latest write, not on a replica a second behind.
            ConsistentRead = true,
        };

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            throw CommandFailedException.Usage(ex.Message);
        }

        // The client the library's DI extension builds (standard retries, one retry, a bounded attempt), with the tool's timeout.
        var config = DynamoDbCircuitStateStoreServiceCollectionExtensions.CreateClientConfig(options);
        config.Timeout = requestTimeout;
        AmazonDynamoDBClient client;
        try
        {
            client = target.Endpoint is null
                ? new AmazonDynamoDBClient(config)
                : new AmazonDynamoDBClient(LocalEndpointCredentials.Resolve(environment), config);
        }
        catch (AmazonClientException ex)
        {
            throw CommandFailedException.Usage($"the DynamoDB client could not be set up: {ex.Message} Pass --region, or set AWS_REGION.");
        }

        var store = new DynamoDbCircuitStateStore(client, options);
        var endpoint = target.Endpoint is { } url
            ? WithoutUserInfo(url)
            : $"AWS ({client.Config.RegionEndpoint?.SystemName ?? target.Region ?? "region from the environment"})";
        return new DynamoDbCircuitCatalog(client, store, target.TableName, endpoint, target.ExpiryAttribute, requestTimeout);
    }

    public async Task<IReadOnlyList<CircuitItem>> ListAsync(CancellationToken cancellationToken)
    {
        var items = new List<CircuitItem>();
        Dictionary<string, AttributeValue>? startKey = null;
        do
        {
            var request = new ScanRequest
            {
                TableName = _tableName,
                ConsistentRead = true,
                ExclusiveStartKey = startKey,
            };
            var page = await StoreRequest.WithinAsync(RequestTimeout, token => _client.ScanAsync(request, token), cancellationToken).ConfigureAwait(false);
            items.AddRange((page.Items ?? []).Select(ToCircuitItem));
            startKey = page.LastEvaluatedKey is { Count: > 0 } next ? next : null;
        }
        while (startKey is not null);

        return [.. items.OrderBy(item => item.Id, StringComparer.Ordinal)];
    }

    public async Task<CircuitItem?> FindAsync(string circuitId, CancellationToken cancellationToken)
    {
        var request = new GetItemRequest
        {
            TableName = _tableName,
            Key = DynamoDbCircuitItem.Key(circuitId),
            ConsistentRead = true,
        };
        var response = await StoreRequest.WithinAsync(RequestTimeout, token => _client.GetItemAsync(request, token), cancellationToken).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item ? ToCircuitItem(item) : null;
    }

    public CommandFailedException? Explain(Exception exception)
    {
        var error = exception is CircuitStateStoreException { InnerException: { } inner } ? inner : exception;
        var where = $"DynamoDB at {_endpoint} (table '{_tableName}')";
        return error switch
        {
            ResourceNotFoundException => CommandFailedException.Store($"the DynamoDB table '{_tableName}' does not exist at {_endpoint}", error),
            AmazonServiceException { ErrorCode: { } code } when RefusedCredentialCodes.Contains(code) =>
                CommandFailedException.Store($"{where} refused the AWS credentials ({code}): check AWS_PROFILE, AWS_ACCESS_KEY_ID or the role the tool runs with", error),
            AmazonServiceException { ErrorCode: "AccessDeniedException" } denied =>
                CommandFailedException.Store($"{where} denied the request: {denied.Message}", error),
            AmazonServiceException { ErrorCode: { } code } when ThrottlingCodes.Contains(code) =>
                CommandFailedException.Store($"{where} throttled the request ({code}); try again", error),
            AmazonServiceException service =>
                CommandFailedException.Store($"{where} answered {service.ErrorCode ?? service.StatusCode.ToString()}: {service.Message}", error),
            HttpRequestException http => CommandFailedException.Store($"cannot reach {where}: {http.Message}", error),
            AmazonClientException { InnerException: HttpRequestException http } => CommandFailedException.Store($"cannot reach {where}: {http.Message}", error),
            TimeoutException timeout => CommandFailedException.Store($"{where} gave {timeout.Message}", error),
            AmazonClientException client when client.Message.Contains("credential", StringComparison.OrdinalIgnoreCase) =>
                CommandFailedException.Store($"no AWS credentials for {where}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them", error),
            AmazonClientException client => CommandFailedException.Store($"{where}: {client.Message}", error),
            _ => null,
        };
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private CircuitItem ToCircuitItem(Dictionary<string, AttributeValue> item)
    {
        // DynamoDB's time to live reads epoch seconds; a value of another type is no expiry, and is shown as another attribute.
        var expiresAt = item.TryGetValue(_expiryAttribute, out var expiry)
            && long.TryParse(expiry.N, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds <= long.MaxValue / 1_000
                ? seconds * 1_000
                : (long?)null;
        var id = item.TryGetValue(CircuitSnapshotSchema.IdAttribute, out var key) ? key.S ?? DynamoDbAttributeText.Format(key) : string.Empty;
        var attributes = CircuitItem.InSchemaOrder(item.Where(pair => pair.Key != CircuitSnapshotSchema.IdAttribute), pair => pair.Key)
            .Select(pair => new StoredAttribute(pair.Key, DynamoDbAttributeText.Format(pair.Value)))
            .ToList();
        var others = attributes
            .Where(a => !CircuitSnapshotSchema.OwnedAttributes.Contains(a.Name)
                && a.Name is not DynamoDbCircuitItem.RecentWriteIdsAttribute and not CircuitSnapshotSchema.FailingEnvironmentsAttribute
                && !(a.Name == _expiryAttribute && expiresAt is not null))
            .ToList();
        var recentWriteIds = item.TryGetValue(DynamoDbCircuitItem.RecentWriteIdsAttribute, out var ids) ? ids.SS?.Count ?? 0 : 0;
        return new CircuitItem(id, DynamoDbCircuitItem.ToEntry(item), attributes, others, recentWriteIds, expiresAt);
    }

    private static string WithoutUserInfo(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0
            ? new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty }.Uri.ToString()
            : url;
}
