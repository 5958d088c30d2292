namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>
/// A table or key prefix of circuits, as an operator sees it: every circuit listed, one item read whole, and the library's own
/// store for changes, so that a change follows exactly the rules breakers follow.
/// </summary>
internal interface ICircuitCatalog : IAsyncDisposable
{
    /// <summary>Gets where the circuits are, for messages: store, table or prefix, endpoint; never a credential.</summary>
    string Location { get; }

    /// <summary>Gets the library's store over the same table or prefix, for reads and compare-and-set changes.</summary>
    ICircuitStateStore Store { get; }

    /// <summary>Gets how long one store request may take.</summary>
    TimeSpan RequestTimeout { get; }

    /// <summary>Reads every circuit, ordered by id.</summary>
    Task<IReadOnlyList<CircuitItem>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Reads one circuit's whole item, or returns <see langword="null"/> when the id has none.</summary>
    Task<CircuitItem?> FindAsync(string circuitId, CancellationToken cancellationToken);

    /// <summary>Explains a store client's error in one line for the operator, or returns <see langword="null"/> when it is none of the store's.</summary>
    CommandFailedException? Explain(Exception exception);
}
