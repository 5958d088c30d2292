namespace HttpClientLambda;

/// <summary>The dependency of the queue handler, as an SDK client would be: one reservation per order message.</summary>
public interface IInventoryClient
{
    /// <summary>Reserves the items of an order.</summary>
    /// <param name="orderJson">The order, as the queue message carried it.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the reservation is stored.</returns>
    Task ReserveAsync(string orderJson, CancellationToken cancellationToken);
}
