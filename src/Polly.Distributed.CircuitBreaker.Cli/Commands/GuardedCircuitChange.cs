using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Cli.Output;
using Polly.Distributed.CircuitBreaker.Cli.Stores;
using Polly.Distributed.CircuitBreaker.Controller;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>
/// Isolates or closes a circuit exactly as <see cref="DistributedCircuitBreakerManualControl"/> does (the library's own change,
/// written by compare-and-set until it lands, so .NET and Node processes honour it), guarded for an operator: the item must
/// exist, and with an expected state, every read must find the circuit in that state. A compare-and-set that loses to another
/// writer reads again; if the circuit has left the expected state by then, it moved, and nothing is written.
/// </summary>
internal static class GuardedCircuitChange
{
    public static async Task<(CircuitSnapshot Before, CircuitSnapshot After)> ApplyAsync(
        ICircuitStateStore store,
        string circuitId,
        bool isolate,
        CircuitState? expectedState,
        bool createMissing,
        TimeProvider clock,
        TimeSpan requestTimeout,
        CancellationToken cancellationToken)
    {
        CircuitState? firstRead = null;
        return await ManualCircuitChange.ApplyAsync(
            async token =>
            {
                var entry = await StoreRequest.WithinAsync(requestTimeout, t => store.ReadAsync(circuitId, t).AsTask(), token).ConfigureAwait(false);
                if (!entry.Exists && !createMissing)
                {
                    throw new CommandFailedException(
                        CliExitCodes.NoSuchCircuit,
                        firstRead is null
                            ? $"no circuit '{circuitId}'" + (isolate ? " (isolate --create isolates an id no breaker has written yet)" : string.Empty)
                            : $"the circuit '{circuitId}' was removed before the change was written: nothing changed");
                }

                var state = entry.Snapshot.ToCircuitState();
                if (expectedState is { } expected && state != expected)
                {
                    var guard = $"--if-state {CircuitStateNames.Of(expected)}";
                    throw new CommandFailedException(
                        CliExitCodes.GuardFailed,
                        firstRead is null
                            ? $"the circuit '{circuitId}' is {CircuitStateNames.Shown(state)}, not {CircuitStateNames.Shown(expected)} ({guard}): nothing changed"
                            : $"the circuit '{circuitId}' moved from {CircuitStateNames.Shown(firstRead.Value)} to {CircuitStateNames.Shown(state)} before the change was written ({guard}): nothing changed");
                }

                firstRead ??= state;
                return entry;
            },
            async (expected, next, token) =>
                (await StoreRequest.WithinAsync(requestTimeout, t => store.TryReplaceAsync(circuitId, expected, next, t).AsTask(), token).ConfigureAwait(false)).Succeeded,
            isolate ? CircuitStateMachine.Isolate : CircuitStateMachine.Close,
            () => clock.GetUtcNow().ToUnixTimeMilliseconds(),
            cancellationToken).ConfigureAwait(false);
    }
}
