using Polly.Distributed.CircuitBreaker.Cli.Stores;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>What a command runs with once its store is open.</summary>
internal sealed class CommandContext(ICircuitCatalog catalog, TextWriter output, TextWriter error, CliEnvironment environment, bool json)
{
    public ICircuitCatalog Catalog { get; } = catalog;

    /// <summary>Gets where results go (standard output).</summary>
    public TextWriter Output { get; } = output;

    /// <summary>Gets where progress and errors go (standard error), so that standard output stays data.</summary>
    public TextWriter Error { get; } = error;

    public CliEnvironment Environment { get; } = environment;

    public TimeProvider Clock => Environment.Clock;

    public bool Json { get; } = json;
}
