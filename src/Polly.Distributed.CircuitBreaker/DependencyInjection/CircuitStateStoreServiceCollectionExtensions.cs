using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly.Distributed.CircuitBreaker;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers circuit state stores.
/// </summary>
public static class CircuitStateStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers an <see cref="InMemoryCircuitStateStore"/> as the <see cref="ICircuitStateStore"/>, replacing any other:
    /// circuits are shared inside this process only (tests, local runs).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddInMemoryCircuitStateStore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        services.RemoveAll<ICircuitStateStore>();
        services.AddSingleton<InMemoryCircuitStateStore>();
        services.AddSingleton<ICircuitStateStore>(static sp => sp.GetRequiredService<InMemoryCircuitStateStore>());
        return services;
    }
}
