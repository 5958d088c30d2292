using System.CommandLine;
using Polly.Distributed.CircuitBreaker.Cli.Output;
using Polly.Distributed.CircuitBreaker.Cli.Stores;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary><c>watch ID</c>: polls one circuit and prints a line each time it changes, until Ctrl+C.</summary>
internal static class WatchCommand
{
    public const string Notes =
        "Prints the state when it starts, then a line each time the state, failure count, next attempt or probe lease\n" +
        "changes, read with the breakers' own GetItem (IAM dynamodb:GetItem) or HMGET. A store error is reported on standard\n" +
        "error and the watch goes on. Ctrl+C ends it with exit code 0. --json writes one JSON object per line:\n" +
        "{time, circuit}, circuit as in list, or null once the item is removed.";

    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    public static Command Create(CommandRunner runner)
    {
        var id = CliOptions.CircuitIdArgument();
        var interval = new Option<TimeSpan?>("--interval")
        {
            Description = "Time between two reads, e.g. 500ms, 2s [default: 1s]",
            HelpName = "duration",
            CustomParser = result => Durations.ParseArgument(result),
        };
        var command = new Command("watch", "Print a circuit's state each time it changes, until Ctrl+C.") { id, interval };
        command.SetAction((parse, cancellationToken) => runner.RunAsync(
            parse,
            (context, ct) => RunAsync(context, parse.GetRequiredValue(id), parse.GetValue(interval) ?? DefaultInterval, ct),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context, string circuitId, TimeSpan interval, CancellationToken cancellationToken)
    {
        var store = context.Catalog.Store;
        var first = await StoreRequest.WithinAsync(context.Catalog.RequestTimeout, t => store.ReadAsync(circuitId, t).AsTask(), cancellationToken).ConfigureAwait(false);
        if (!first.Exists)
        {
            throw new CommandFailedException(CliExitCodes.NoSuchCircuit, $"no circuit '{circuitId}' in {context.Catalog.Location}");
        }

        await context.Error.WriteLineAsync(
            $"watching '{circuitId}' in {context.Catalog.Location} every {StoreRequest.Describe(interval)}; Ctrl+C to stop").ConfigureAwait(false);
        await WriteAsync(context, circuitId, first).ConfigureAwait(false);
        var shown = WatchedState.Of(first);
        string? lastError = null;
        try
        {
            while (true)
            {
                await Task.Delay(interval, context.Clock, cancellationToken).ConfigureAwait(false);
                StoredCircuit entry;
                try
                {
                    entry = await StoreRequest.WithinAsync(context.Catalog.RequestTimeout, t => store.ReadAsync(circuitId, t).AsTask(), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && context.Catalog.Explain(ex) is { } failure)
                {
                    // Once per outage, not once per poll.
                    if (failure.Message != lastError)
                    {
                        await context.Error.WriteLineAsync($"{TimeText.Now(context.Clock)}  error: {failure.Message}; still watching").ConfigureAwait(false);
                        lastError = failure.Message;
                    }

                    continue;
                }

                lastError = null;
                var watched = WatchedState.Of(entry);
                if (watched != shown)
                {
                    await WriteAsync(context, circuitId, entry).ConfigureAwait(false);
                    shown = watched;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return CliExitCodes.Done;
        }
    }

    private static async Task WriteAsync(CommandContext context, string circuitId, StoredCircuit entry)
    {
        if (context.Json)
        {
            CircuitJson.WriteTo(context.Output, indented: false, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("time", TimeText.Utc(context.Environment.NowUnixMs));
                writer.WritePropertyName("circuit");
                if (entry.Exists)
                {
                    CircuitJson.WriteCircuit(writer, circuitId, entry);
                }
                else
                {
                    writer.WriteNullValue();
                }

                writer.WriteEndObject();
            });
        }
        else
        {
            await context.Output.WriteLineAsync($"{TimeText.Now(context.Clock)}  {CircuitText.WatchLine(entry, context.Clock)}").ConfigureAwait(false);
        }

        await context.Output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
