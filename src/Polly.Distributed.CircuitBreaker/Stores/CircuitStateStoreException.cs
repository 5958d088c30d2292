namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// A store could not serve a request; the message names the store, its table or endpoint, and the operation.
/// </summary>
public class CircuitStateStoreException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="CircuitStateStoreException"/> class.</summary>
    public CircuitStateStoreException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CircuitStateStoreException"/> class.</summary>
    /// <param name="message">What failed, and where.</param>
    public CircuitStateStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CircuitStateStoreException"/> class.</summary>
    /// <param name="message">What failed, and where.</param>
    /// <param name="innerException">The store client's error.</param>
    public CircuitStateStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Gets why the request failed, as far as the store can tell.</summary>
    public CircuitStateStoreFailureKind Kind { get; init; }
}
