using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Polly.Distributed.CircuitBreaker.Cli.Commands;

namespace Polly.Distributed.CircuitBreaker.Cli;

/// <summary>
/// The <c>circuitbreaker</c> tool: parses the command line, runs the command and returns its exit code. The process entry
/// point and the tests both call it, so tests run the tool in-process.
/// </summary>
internal static class CliApplication
{
    public const string ToolName = "circuitbreaker";

    private const string Description =
        "See and change the fleet-wide circuits of Polly.Distributed.CircuitBreaker (and circuitbreaker-lambda) in a DynamoDB\n" +
        "table or a Redis key prefix.";

    private const string StoreNotes =
        "Stores:\n" +
        "  DynamoDB  --table NAME, or CIRCUITBREAKER_TABLE. Credentials and region come from the usual AWS sources (environment,\n" +
        "            profile, role). With --endpoint (dynalite, DynamoDB Local) and no credentials configured, dummy ones are\n" +
        "            used. IAM: dynamodb:Scan for list (breakers never need it), dynamodb:GetItem for show and watch,\n" +
        "            dynamodb:GetItem and dynamodb:UpdateItem for isolate and close.\n" +
        "  Redis     --redis CONNECTION, or CIRCUITBREAKER_REDIS (keeps a password off the command line), with --prefix.\n" +
        "            Messages name the endpoints only: a password never appears in any output.";

    private const string ExitCodeNotes =
        "Exit codes:\n" +
        "  0    done (watch: ended with Ctrl+C)\n" +
        "  2    usage error: unknown command or option, a value that does not parse, no store named\n" +
        "  3    no such circuit: the id has no item (DynamoDB) or hash (Redis)\n" +
        "  4    guard failed: the circuit was not in the --if-state state, or moved before the change was written; nothing changed\n" +
        "  5    store error: missing table, refused credentials, unreachable endpoint, timeout\n" +
        "  130  interrupted by Ctrl+C (every command but watch)";

    /// <summary>Runs the tool on this process's environment and clock.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        RunAsync(args, output, error, CliEnvironment.Process, cancellationToken);

    /// <summary>Runs the tool with the given environment variables and clock.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CliEnvironment environment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(environment);

        var root = CreateRootCommand(environment);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var problem in parse.Errors)
            {
                await error.WriteLineAsync("error: " + problem.Message).ConfigureAwait(false);
            }

            await error.WriteLineAsync($"Run '{CommandPath(parse.CommandResult.Command)} --help' for usage.").ConfigureAwait(false);
            return CliExitCodes.UsageError;
        }

        var invocation = new InvocationConfiguration
        {
            Output = output,
            Error = error,

            // Ctrl+C is the caller's cancellation token (Program.cs), so that the tests can run the tool in-process.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        };

        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await error.WriteLineAsync($"error: unexpected {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            return CliExitCodes.UnexpectedError;
        }
    }

    private static RootCommand CreateRootCommand(CliEnvironment environment)
    {
        var options = new CliOptions();
        var runner = new CommandRunner(options, environment);
        var root = new RootCommand(Description);
        foreach (var option in options.Global)
        {
            root.Options.Add(option);
        }

        var notes = new Dictionary<Command, string> { [root] = StoreNotes + "\n\n" + ExitCodeNotes };
        void Add(Command command, string commandNotes)
        {
            root.Subcommands.Add(command);
            notes[command] = commandNotes + "\n\n" + ExitCodeNotes;
        }

        Add(ListCommand.Create(runner), ListCommand.Notes);
        Add(ShowCommand.Create(runner), ShowCommand.Notes);
        Add(ChangeCommand.CreateIsolate(options, runner), ChangeCommand.IsolateNotes);
        Add(ChangeCommand.CreateClose(options, runner), ChangeCommand.CloseNotes);
        Add(WatchCommand.Create(runner), WatchCommand.Notes);

        foreach (var helpOption in root.Options.OfType<HelpOption>())
        {
            if (helpOption.Action is SynchronousCommandLineAction standardHelp)
            {
                helpOption.Action = new HelpWithNotesAction(standardHelp, notes);
            }
        }

        return root;
    }

    private static string CommandPath(Command command)
    {
        // The root command's own name is the executable's, which differs between "dotnet tool run" and tests.
        return command is RootCommand ? ToolName : ToolName + " " + command.Name;
    }
}
