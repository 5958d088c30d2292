namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>What this process's own circuit says of a call.</summary>
internal enum LocalAdmission
{
    /// <summary>Nothing against it: the shared circuit decides.</summary>
    Allowed,

    /// <summary>The call is this process's local probe; the shared circuit still decides.</summary>
    Probe,

    /// <summary>Rejected by this process's own open circuit.</summary>
    Rejected,
}
