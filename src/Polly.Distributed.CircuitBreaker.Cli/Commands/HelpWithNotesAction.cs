using System.CommandLine;
using System.CommandLine.Invocation;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>The standard help of a command followed by its notes: the stores, the IAM it needs, its JSON and the exit codes.</summary>
internal sealed class HelpWithNotesAction(SynchronousCommandLineAction standardHelp, IReadOnlyDictionary<Command, string> notes) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        var exitCode = standardHelp.Invoke(parseResult);
        if (notes.TryGetValue(parseResult.CommandResult.Command, out var text))
        {
            parseResult.InvocationConfiguration.Output.WriteLine(text);
            parseResult.InvocationConfiguration.Output.WriteLine();
        }

        return exitCode;
    }
}
