namespace Polly.Distributed.CircuitBreaker.Cli;

/// <summary>The exit codes scripts can rely on; listed in the tool's help and in README.md.</summary>
internal static class CliExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Done = 0;

    /// <summary>The command line could not be used: unknown command or option, a value that does not parse, no store named.</summary>
    public const int UsageError = 2;

    /// <summary>The circuit id has no item (DynamoDB) or hash (Redis).</summary>
    public const int NoSuchCircuit = 3;

    /// <summary>The circuit was not in the state <c>--if-state</c> named, or moved before the change was written: nothing changed.</summary>
    public const int GuardFailed = 4;

    /// <summary>The store could not answer: a missing table, refused credentials, an unreachable endpoint, a timeout.</summary>
    public const int StoreError = 5;

    /// <summary>Anything else went wrong: a defect of the tool.</summary>
    public const int UnexpectedError = 1;

    /// <summary>Ctrl+C stopped a command other than watch (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
