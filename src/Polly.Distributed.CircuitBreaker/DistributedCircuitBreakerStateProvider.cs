using System.Diagnostics.CodeAnalysis;
using System.Collections.Concurrent;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Reads the shared state of the circuits of the breakers it is attached to through
/// <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.StateProvider"/>. One provider may serve several circuits,
/// as the per-host pipelines of an HttpClient with <c>SelectPipelineByAuthority()</c> are: read each by its circuit id.
/// </summary>
/// <remarks>Each read goes to the store (and refreshes the process cache); a store error is thrown to the caller.</remarks>
public sealed class DistributedCircuitBreakerStateProvider
{
    private readonly ConcurrentDictionary<string, AttachedCircuit> _circuits = new(StringComparer.Ordinal);

    /// <summary>Gets the circuit ids of the attached breakers.</summary>
    public IReadOnlyCollection<string> CircuitIds => [.. _circuits.Keys];

    /// <summary>Reads the shared state of the one circuit this provider serves.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The stored state.</returns>
    /// <exception cref="InvalidOperationException">No breaker uses this provider yet, or it serves several circuits.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ by a leading circuit id, so no call is ambiguous.")]
    public Task<CircuitSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        var circuits = _circuits.ToArray();
        return circuits.Length switch
        {
            1 => circuits[0].Value.ReadAsync(cancellationToken),
            0 => throw new InvalidOperationException("No distributed circuit breaker uses this state provider: build a pipeline with it first."),
            _ => throw new InvalidOperationException(
                $"This state provider serves {circuits.Length} circuits ({string.Join(", ", circuits.Select(c => c.Key).Order(StringComparer.Ordinal))}): pass the circuit id to read."),
        };
    }

    /// <summary>Reads the shared state of one of the circuits this provider serves.</summary>
    /// <param name="circuitId">The circuit id, one of <see cref="CircuitIds"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The stored state.</returns>
    /// <exception cref="InvalidOperationException">No breaker attached to this provider uses that circuit id.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ by a leading circuit id, so no call is ambiguous.")]
    public Task<CircuitSnapshot> GetSnapshotAsync(string circuitId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        return Find(circuitId).ReadAsync(cancellationToken);
    }

    /// <summary>
    /// Gets the state of this process's own circuit for one of the circuits this provider serves: the circuit it keeps beside
    /// the shared one, which opens on this process's failures alone when the shared circuit has not opened. No store is read.
    /// </summary>
    /// <param name="circuitId">The circuit id, one of <see cref="CircuitIds"/>.</param>
    /// <returns>The state of this process's own circuit.</returns>
    /// <exception cref="InvalidOperationException">No breaker attached to this provider uses that circuit id.</exception>
    public LocalCircuitState GetLocalCircuitState(string circuitId)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        return Find(circuitId).LocalState();
    }

    /// <summary>Reads the shared state of the one circuit this provider serves as Polly's <see cref="CircuitState"/>.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The state.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ by a leading circuit id, so no call is ambiguous.")]
    public async Task<CircuitState> GetCircuitStateAsync(CancellationToken cancellationToken = default) =>
        (await GetSnapshotAsync(cancellationToken).ConfigureAwait(false)).ToCircuitState();

    /// <summary>Reads the shared state of one of the circuits this provider serves as Polly's <see cref="CircuitState"/>.</summary>
    /// <param name="circuitId">The circuit id, one of <see cref="CircuitIds"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The state.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ by a leading circuit id, so no call is ambiguous.")]
    public async Task<CircuitState> GetCircuitStateAsync(string circuitId, CancellationToken cancellationToken = default) =>
        (await GetSnapshotAsync(circuitId, cancellationToken).ConfigureAwait(false)).ToCircuitState();

    // A pipeline rebuilt for the same circuit (a reload) takes the place of the old one; disposing the returned registration
    // (the pipeline was disposed or reloaded) lets go of the controller unless a newer one took its place.
    internal IDisposable Attach<TResult>(DistributedCircuitController<TResult> controller)
    {
        var circuit = new AttachedCircuit(
            controller.CircuitId,
            controller.ReadSnapshotAsync,
            () => controller.LocalState,
            () => controller.LastKnownSnapshot,
            controller.StoreTimeout);
        var entry = new KeyValuePair<string, AttachedCircuit>(controller.CircuitId, circuit);
        _circuits[entry.Key] = entry.Value;
        return new Registration(() => _circuits.TryRemove(entry));
    }

    /// <summary>Gets the attached circuits, for health checks.</summary>
    internal IReadOnlyList<AttachedCircuit> Attached => [.. _circuits.Values];

    private AttachedCircuit Find(string circuitId) =>
        _circuits.TryGetValue(circuitId, out var circuit)
            ? circuit
            : throw new InvalidOperationException($"No distributed circuit breaker attached to this state provider uses the circuit id '{circuitId}'.");

    /// <summary>One attached breaker's circuit: a read past the cache (store errors thrown), this process's own circuit, the
    /// state it last knew (no store read), and how long the breaker lets a call wait for the store.</summary>
    internal sealed record AttachedCircuit(
        string CircuitId,
        Func<CancellationToken, Task<CircuitSnapshot>> ReadAsync,
        Func<LocalCircuitState> LocalState,
        Func<CircuitSnapshot?> LastKnown,
        TimeSpan StoreTimeout);
}
