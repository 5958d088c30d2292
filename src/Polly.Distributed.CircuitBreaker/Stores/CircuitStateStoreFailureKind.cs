namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Why a store request failed, as far as the store can tell: the breaker reads timeouts and throttling as pressure (it
/// then reads the store less often), and reports every kind in its metrics.
/// </summary>
public enum CircuitStateStoreFailureKind
{
    /// <summary>Any other error (a missing table, refused credentials, an unexpected answer).</summary>
    Other,

    /// <summary>The store did not answer in time.</summary>
    Timeout,

    /// <summary>The store refused the request for load: DynamoDB throttling, Redis <c>BUSY</c> or <c>LOADING</c>.</summary>
    Throttled,

    /// <summary>The store could not be reached: the connection was refused, reset or could not be made.</summary>
    Unreachable,
}
