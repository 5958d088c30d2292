using System.Security.Cryptography;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The identity of this execution environment in the fleet, as the store counts distinct failing environments for
/// <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.MinimumFailingEnvironments"/>: random, unique in the fleet,
/// stable for the life of the process, and taken when first needed rather than at start-up.
/// </summary>
/// <remarks>
/// Environments restored from one snapshot (AWS Lambda SnapStart, CRaC-like checkpoints) would share an id taken before the
/// snapshot: call <see cref="Renew"/> in the restore hook (for Lambda, a <c>RegisterAfterRestore</c> callback), or make
/// sure no breaker counted a failure before the snapshot.
/// </remarks>
public static class DistributedCircuitBreakerEnvironment
{
    private static string? _id;

    /// <summary>Gets this environment's id: 16 hexadecimal characters, taken on first use.</summary>
    public static string Id => Volatile.Read(ref _id) ?? Interlocked.CompareExchange(ref _id, NewId(), null) ?? Volatile.Read(ref _id)!;

    /// <summary>Gives this environment a new id, for a process restored from a snapshot that other environments share.</summary>
    public static void Renew() => Volatile.Write(ref _id, NewId());

    private static string NewId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
}
