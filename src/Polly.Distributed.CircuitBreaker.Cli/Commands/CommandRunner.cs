using System.CommandLine;
using Polly.Distributed.CircuitBreaker.Cli.Stores;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>
/// Runs a command: opens the store named by the options, runs the command on it, and turns every failure into a one-line
/// message on standard error and the exit code that says why, with any secret removed.
/// </summary>
internal sealed class CommandRunner(CliOptions options, CliEnvironment environment)
{
    public async Task<int> RunAsync(ParseResult parse, Func<CommandContext, CancellationToken, Task<int>> command, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        IReadOnlyList<string> secrets = [];
        ICircuitCatalog? catalog = null;
        try
        {
            var target = options.BindStore(parse, environment);
            secrets = target.Secrets;
            catalog = await target.OpenAsync(environment, parse.GetValue(options.Timeout) ?? CliOptions.DefaultRequestTimeout, cancellationToken).ConfigureAwait(false);
            return await command(new CommandContext(catalog, output, error, environment, parse.GetValue(options.Json)), cancellationToken).ConfigureAwait(false);
        }
        catch (CommandFailedException ex)
        {
            await ReportAsync(error, ex.Message, secrets).ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await ReportAsync(error, "interrupted", secrets).ConfigureAwait(false);
            return CliExitCodes.Interrupted;
        }
        catch (Exception ex) when (catalog?.Explain(ex) is { } failure)
        {
            await ReportAsync(error, failure.Message, secrets).ConfigureAwait(false);
            return failure.ExitCode;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await ReportAsync(error, $"unexpected {ex.GetType().Name}: {ex.Message}", secrets).ConfigureAwait(false);
            return CliExitCodes.UnexpectedError;
        }
        finally
        {
            if (catalog is not null)
            {
                await catalog.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes "error: ..." with every secret replaced, whatever a client library put in its message.</summary>
    public static async Task ReportAsync(TextWriter error, string message, IReadOnlyList<string> secrets)
    {
        var safe = secrets.Where(s => s.Length > 0).Aggregate(message, (text, secret) => text.Replace(secret, "***", StringComparison.Ordinal));
        await error.WriteLineAsync("error: " + safe).ConfigureAwait(false);
    }
}
