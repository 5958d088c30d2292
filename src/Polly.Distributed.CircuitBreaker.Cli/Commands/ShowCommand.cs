using System.CommandLine;
using Polly.Distributed.CircuitBreaker.Cli.Output;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary><c>show ID</c>: one circuit's whole item, this library's own attributes and anyone else's included.</summary>
internal static class ShowCommand
{
    public const string Notes =
        "Reads the item with a consistent GetItem (IAM dynamodb:GetItem) or HGETALL. Shows the probe lease (owner, expiry,\n" +
        "episode), the DynamoDB store's recent write id count and every attribute others wrote, raw with its DynamoDB type.\n" +
        "Shows when the item expires (DynamoDB's time-to-live attribute, named by --expiry-attribute, or the Redis key's expiry).\n" +
        "--json writes the object of list plus recentWriteIds and attributes (every stored attribute, raw).";

    public static Command Create(CommandRunner runner)
    {
        var id = CliOptions.CircuitIdArgument();
        var command = new Command("show", "Show one circuit in full: state, counts, times, probe lease, every other attribute.") { id };
        command.SetAction((parse, cancellationToken) => runner.RunAsync(parse, (context, ct) => RunAsync(context, parse.GetRequiredValue(id), ct), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context, string circuitId, CancellationToken cancellationToken)
    {
        var item = await context.Catalog.FindAsync(circuitId, cancellationToken).ConfigureAwait(false)
            ?? throw new CommandFailedException(CliExitCodes.NoSuchCircuit, $"no circuit '{circuitId}' in {context.Catalog.Location}");

        if (context.Json)
        {
            CircuitJson.WriteTo(context.Output, indented: true, writer => CircuitJson.WriteItem(writer, item));
        }
        else
        {
            CircuitText.WriteItem(context.Output, item, context.Catalog.Location, context.Clock);
        }

        return CliExitCodes.Done;
    }
}
