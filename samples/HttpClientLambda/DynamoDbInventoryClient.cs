using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace HttpClientLambda;

/// <summary>Stores each reservation as an item of the table <c>INVENTORY_TABLE</c> through the AWS SDK.</summary>
public sealed class DynamoDbInventoryClient(IAmazonDynamoDB client, string tableName) : IInventoryClient
{
    /// <inheritdoc/>
    public async Task ReserveAsync(string orderJson, CancellationToken cancellationToken) =>
        await client.PutItemAsync(
            new PutItemRequest
            {
                TableName = tableName,
                Item = new Dictionary<string, AttributeValue>
                {
                    ["id"] = new() { S = Guid.NewGuid().ToString("N") },
                    ["order"] = new() { S = orderJson },
                },
            },
            cancellationToken);
}
