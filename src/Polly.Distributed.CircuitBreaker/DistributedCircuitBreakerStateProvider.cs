using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Reads the shared state of the circuit of one breaker. Attach it through
/// <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.StateProvider"/>; one provider serves one breaker.
/// </summary>
/// <remarks>Each read goes to the store (and refreshes the process cache); a store error is thrown to the caller.</remarks>
public sealed class DistributedCircuitBreakerStateProvider
{
    private Func<CancellationToken, Task<CircuitSnapshot>>? _read;

    /// <summary>Gets the circuit id of the attached breaker, or <see langword="null"/> before one is built.</summary>
    public string? CircuitId { get; private set; }

    /// <summary>Reads the shared state of the circuit.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The stored state.</returns>
    /// <exception cref="InvalidOperationException">No breaker uses this provider yet.</exception>
    public Task<CircuitSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default) =>
        (_read ?? throw new InvalidOperationException("No distributed circuit breaker uses this state provider: build a pipeline with it first."))(cancellationToken);

    /// <summary>Reads the shared state of the circuit as Polly's <see cref="CircuitState"/>.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The state.</returns>
    public async Task<CircuitState> GetCircuitStateAsync(CancellationToken cancellationToken = default) =>
        (await GetSnapshotAsync(cancellationToken).ConfigureAwait(false)).ToCircuitState();

    internal void Attach<TResult>(DistributedCircuitController<TResult> controller)
    {
        if (Interlocked.CompareExchange(ref _read, controller.ReadSnapshotAsync, null) is not null)
        {
            throw new InvalidOperationException("This state provider is already used by another distributed circuit breaker; create one per breaker.");
        }

        CircuitId = controller.CircuitId;
    }
}
