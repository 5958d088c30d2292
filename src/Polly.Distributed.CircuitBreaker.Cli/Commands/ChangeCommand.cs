using System.CommandLine;
using Polly.Distributed.CircuitBreaker.Cli.Output;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary><c>isolate ID</c> and <c>close ID</c>: the fleet-wide manual changes of <see cref="DistributedCircuitBreakerManualControl"/>.</summary>
internal static class ChangeCommand
{
    public const string IsolateNotes =
        "Writes OPEN with nextAttempt 9999-12-31 by compare-and-set (IAM dynamodb:GetItem and dynamodb:UpdateItem): every .NET\n" +
        "and Node process rejects calls until the circuit is closed. A Node call already in flight when the circuit is isolated\n" +
        "writes its earlier state back when it ends: isolate again if the fleet still runs Node processes.\n" +
        "--json writes {id, action, before, after}, each state an object as in list.";

    public const string CloseNotes =
        "Writes CLOSED with the failure, success and open counts back at 0 by compare-and-set (IAM dynamodb:GetItem and\n" +
        "dynamodb:UpdateItem); ends an isolation. --json writes {id, action, before, after}, each state an object as in list.";

    public static Command CreateIsolate(CliOptions options, CommandRunner runner)
    {
        var id = CliOptions.CircuitIdArgument();
        var create = new Option<bool>("--create")
        {
            Description = "Isolate the id even if no breaker has written it yet (by default an unknown id exits 3)",
        };
        var command = new Command("isolate", "Isolate a circuit fleet-wide: it stays open, rejecting every call, until closed.") { id, options.IfState, create };
        command.SetAction((parse, cancellationToken) => runner.RunAsync(
            parse,
            (context, ct) => RunAsync(context, parse.GetRequiredValue(id), isolate: true, parse.GetValue(options.IfState), parse.GetValue(create), ct),
            cancellationToken));
        return command;
    }

    public static Command CreateClose(CliOptions options, CommandRunner runner)
    {
        var id = CliOptions.CircuitIdArgument();
        var command = new Command("close", "Close a circuit fleet-wide, resetting its counts; ends an isolation.") { id, options.IfState };
        command.SetAction((parse, cancellationToken) => runner.RunAsync(
            parse,
            (context, ct) => RunAsync(context, parse.GetRequiredValue(id), isolate: false, parse.GetValue(options.IfState), createMissing: false, ct),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context, string circuitId, bool isolate, string? ifState, bool createMissing, CancellationToken cancellationToken)
    {
        // Breakers cannot use other ids, so a change to one is a typo, as DistributedCircuitBreakerManualControl rules.
        if (CircuitIdRules.GetProblem(circuitId) is { } problem)
        {
            throw CommandFailedException.Usage("the circuit id " + problem);
        }

        var expected = ifState is null ? null : CircuitStateNames.Parse(ifState);
        var (before, after) = await GuardedCircuitChange.ApplyAsync(
            context.Catalog.Store,
            circuitId,
            isolate,
            expected,
            createMissing,
            context.Clock,
            context.Catalog.RequestTimeout,
            cancellationToken).ConfigureAwait(false);

        var action = isolate ? "isolate" : "close";
        if (context.Json)
        {
            CircuitJson.WriteTo(context.Output, indented: true, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("id", circuitId);
                writer.WriteString("action", action);
                writer.WritePropertyName("before");
                CircuitJson.WriteCircuit(writer, circuitId, new StoredCircuit(before, true, null));
                writer.WritePropertyName("after");
                CircuitJson.WriteCircuit(writer, circuitId, new StoredCircuit(after, true, null));
                writer.WriteEndObject();
            });
        }
        else
        {
            await context.Output.WriteLineAsync(
                $"{(isolate ? "isolated" : "closed")} '{circuitId}': {CircuitStateNames.Shown(before.ToCircuitState())} -> {CircuitStateNames.Shown(after.ToCircuitState())}").ConfigureAwait(false);
        }

        return CliExitCodes.Done;
    }
}
