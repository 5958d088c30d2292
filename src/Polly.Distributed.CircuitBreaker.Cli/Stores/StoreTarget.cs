namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>The store named on the command line, checked but not contacted yet.</summary>
internal abstract class StoreTarget
{
    /// <summary>Gets the values that must never appear in any output (a Redis password).</summary>
    public virtual IReadOnlyList<string> Secrets => [];

    /// <summary>Connects to the store. Failures are thrown as <see cref="CommandFailedException"/> naming the store, never a secret.</summary>
    public abstract Task<ICircuitCatalog> OpenAsync(CliEnvironment environment, TimeSpan requestTimeout, CancellationToken cancellationToken);
}
