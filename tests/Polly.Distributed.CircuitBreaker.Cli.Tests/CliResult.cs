namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

/// <summary>What one run of the tool returned and wrote.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public string[] OutputLines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\nout:\n{Output}\nerr:\n{Error}";
}
