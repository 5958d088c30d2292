using Amazon.DynamoDBv2.Model;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

/// <summary>
/// The concurrency token of a DynamoDB entry: the owned attributes exactly as stored, or none for a missing item.
/// A conditional write requires every one of them to be unchanged, so any other writer (the Node.js library included) is detected.
/// </summary>
internal sealed class DynamoDbItemVersion(IReadOnlyDictionary<string, AttributeValue>? ownedAttributes)
{
    public IReadOnlyDictionary<string, AttributeValue>? OwnedAttributes { get; } = ownedAttributes;
}
