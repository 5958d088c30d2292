namespace Polly.Distributed.CircuitBreaker.Cli;

/// <summary>Ends a command with a one-line message for the operator and the exit code that says why.</summary>
internal sealed class CommandFailedException : Exception
{
    public CommandFailedException(int exitCode, string message)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public CommandFailedException(int exitCode, string message, Exception innerException)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }

    public static CommandFailedException Usage(string message) => new(CliExitCodes.UsageError, message);

    public static CommandFailedException Store(string message, Exception? innerException = null) =>
        innerException is null ? new(CliExitCodes.StoreError, message) : new(CliExitCodes.StoreError, message, innerException);
}
