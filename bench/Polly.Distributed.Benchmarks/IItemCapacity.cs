using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// How much load one circuit's item takes, on the simulation's virtual clock: each request is admitted, or refused with
/// the error the store would answer.
/// </summary>
internal interface IItemCapacity
{
    /// <summary>Gets a value indicating whether the store counts a failure and opens the circuit in separate requests (DynamoDB) or in one (a Redis script).</summary>
    bool OpensInSeparateRequest { get; }

    /// <summary>Takes the request's share of the capacity, or returns the store's refusal when none is left.</summary>
    /// <param name="request">The request.</param>
    /// <param name="now">Virtual time since the simulation started.</param>
    /// <returns><see langword="null"/> when the request is served.</returns>
    CircuitStateStoreException? Refuse(ItemRequest request, TimeSpan now);
}
