using Polly.Distributed.CircuitBreaker.Cli;

// The first Ctrl+C stops the running command (watch exits 0 on it); the default handling would kill the process mid-write.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !interrupt.IsCancellationRequested;
    interrupt.Cancel();
};

return await CliApplication.RunAsync(args, Console.Out, Console.Error, interrupt.Token).ConfigureAwait(false);
