namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>Requests a real store server received: reads, and writes of any kind (conditional or not).</summary>
public readonly record struct StoreRequests(long Reads, long Writes)
{
    public static StoreRequests operator -(StoreRequests after, StoreRequests before) => new(after.Reads - before.Reads, after.Writes - before.Writes);
}
