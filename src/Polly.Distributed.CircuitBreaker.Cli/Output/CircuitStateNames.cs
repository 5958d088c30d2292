using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Cli.Output;

/// <summary>
/// The states an operator names and reads: closed, open, half-open and isolated (an open circuit that stays open until closed
/// manually). <c>--if-state</c> takes these words, and JSON output uses them, so a script can feed one into the other.
/// </summary>
internal static class CircuitStateNames
{
    public const string Closed = "closed";
    public const string Open = "open";
    public const string HalfOpen = "half-open";
    public const string Isolated = "isolated";

    /// <summary>Gets every name, in the order help lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Closed, Open, HalfOpen, Isolated];

    /// <summary>Returns the name of the state breakers act on for a snapshot (a malformed item reads as closed).</summary>
    public static string Of(CircuitSnapshot snapshot) => Of(snapshot.ToCircuitState());

    public static string Of(CircuitState state) => state switch
    {
        CircuitState.Open => Open,
        CircuitState.HalfOpen => HalfOpen,
        CircuitState.Isolated => Isolated,
        _ => Closed,
    };

    /// <summary>Returns the state a name stands for, or <see langword="null"/> when it is none of <see cref="All"/>.</summary>
    public static CircuitState? Parse(string name) => name.ToLowerInvariant() switch
    {
        Closed => CircuitState.Closed,
        Open => CircuitState.Open,
        HalfOpen => CircuitState.HalfOpen,
        Isolated => CircuitState.Isolated,
        _ => null,
    };

    /// <summary>Returns the name in capitals, as tables and watch lines show it: CLOSED, OPEN, HALF-OPEN, ISOLATED.</summary>
    public static string Shown(CircuitState state) => Of(state).ToUpperInvariant();
}
