using System.Diagnostics;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

public sealed class ToolProcessTests
{
    [Fact]
    public async Task Tool_RunAsProcess_WritesToStandardStreamsAndExitsWithTheCode()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.Redis);
        await store.WriteNodeItemAsync("orders", "CLOSED", 0, 0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        var shown = await RunToolAsync(store.Args("show", "orders", "--json"));
        var missing = await RunToolAsync(store.Args("show", "nothing"));

        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("\"state\": \"closed\"", shown.Output, StringComparison.Ordinal);
        Assert.Equal(CliExitCodes.NoSuchCircuit, missing.ExitCode);
        Assert.StartsWith("error: no circuit 'nothing'", missing.Error, StringComparison.Ordinal);
    }

    private static async Task<CliResult> RunToolAsync(string[] args)
    {
        // The tool's assembly as built beside the tests, run by the dotnet host as "dotnet tool run" runs it.
        var tool = Path.Combine(AppContext.BaseDirectory, "Polly.Distributed.CircuitBreaker.Cli.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(tool);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return new CliResult(process.ExitCode, await output, await error);
    }
}
