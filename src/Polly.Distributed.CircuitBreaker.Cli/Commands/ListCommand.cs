using System.CommandLine;
using Polly.Distributed.CircuitBreaker.Cli.Output;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary><c>list</c>: every circuit of the table or key prefix, as a table for people or a JSON array for scripts.</summary>
internal static class ListCommand
{
    public const string Notes =
        "Reads the whole table with Scan (IAM dynamodb:Scan, which breakers never need) or SCAN MATCH <prefix>* on every Redis\n" +
        "master. Times are local. A MALFORMED item is one breakers cannot read: they treat it as CLOSED and replace it.\n" +
        "--json writes an array of objects: id, state (closed|open|half-open|isolated), malformed, failureCount, successCount,\n" +
        "nextAttempt, lastFailureTime, consecutiveOpens, stateTimestamp, schemaVersion (times in epoch ms, each with a ...Utc\n" +
        "twin), probeLease {owner, expires, episode} or null, expiresAt (when the item expires) or null.\n" +
        "EXPIRES is when DynamoDB's time to live may delete the item (it does so up to days later; the attribute is named by\n" +
        "--expiry-attribute) or the Redis key expires; '-' when it never does: an isolated circuit, or no item expiry set.";

    public static Command Create(CommandRunner runner)
    {
        var command = new Command("list", "List every circuit: state, failure count, next attempt, probe lease, last change, expiry.");
        command.SetAction((parse, cancellationToken) => runner.RunAsync(parse, RunAsync, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var items = await context.Catalog.ListAsync(cancellationToken).ConfigureAwait(false);
        if (context.Json)
        {
            CircuitJson.WriteTo(context.Output, indented: true, writer =>
            {
                writer.WriteStartArray();
                foreach (var item in items)
                {
                    CircuitJson.WriteListed(writer, item);
                }

                writer.WriteEndArray();
            });
            return CliExitCodes.Done;
        }

        if (items.Count == 0)
        {
            await context.Output.WriteLineAsync($"no circuits in {context.Catalog.Location}").ConfigureAwait(false);
            return CliExitCodes.Done;
        }

        CircuitText.WriteTable(context.Output, items, context.Clock);
        await context.Output.WriteLineAsync().ConfigureAwait(false);
        foreach (var item in items.Where(i => i.Entry.MalformedReason is not null))
        {
            await context.Output.WriteLineAsync(
                $"{item.Id} is {CircuitText.Malformed}: {item.Entry.MalformedReason}; breakers read it as CLOSED, and their next write replaces it").ConfigureAwait(false);
        }

        await context.Output.WriteLineAsync(
            $"{items.Count} circuit{(items.Count == 1 ? string.Empty : "s")} in {context.Catalog.Location}; times are local ({TimeText.ZoneOffset(context.Clock)})").ConfigureAwait(false);
        return CliExitCodes.Done;
    }
}
