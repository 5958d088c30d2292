namespace Polly.Distributed.Benchmarks;

/// <summary>One request that reaches a circuit's item, as the store's capacity counts it.</summary>
internal enum ItemRequest
{
    /// <summary>A read of the item (DynamoDB GetItem, eventually consistent as the store reads by default; Redis HGETALL).</summary>
    Read,

    /// <summary>A write of the item, conditional or not (DynamoDB UpdateItem; Redis EVALSHA).</summary>
    Write,
}
