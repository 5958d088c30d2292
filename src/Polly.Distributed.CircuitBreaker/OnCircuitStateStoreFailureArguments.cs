namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Arguments of <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.OnStateStoreFailure"/>: a store call failed and the breaker failed open.
/// </summary>
public readonly struct OnCircuitStateStoreFailureArguments
{
    /// <summary>
    /// Initializes a new instance of the <see cref="OnCircuitStateStoreFailureArguments"/> struct.
    /// </summary>
    /// <param name="context">The resilience context of the call.</param>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="operation">The store operation that failed.</param>
    /// <param name="exception">The error, a <see cref="TimeoutException"/> when the store did not answer in time.</param>
    public OnCircuitStateStoreFailureArguments(ResilienceContext context, string circuitId, CircuitStateStoreOperation operation, Exception exception)
    {
        Context = context;
        CircuitId = circuitId;
        Operation = operation;
        Exception = exception;
    }

    /// <summary>Gets the resilience context of the call.</summary>
    public ResilienceContext Context { get; }

    /// <summary>Gets the circuit id.</summary>
    public string CircuitId { get; }

    /// <summary>Gets the store operation that failed.</summary>
    public CircuitStateStoreOperation Operation { get; }

    /// <summary>Gets the error.</summary>
    public Exception Exception { get; }

    /// <inheritdoc/>
    public override string ToString() => $"CircuitId: {CircuitId}, Operation: {Operation}, Error: {Exception.GetType().Name}: {Exception.Message}";
}
