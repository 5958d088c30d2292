using Microsoft.Extensions.Time.Testing;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

/// <summary>Runs the tool in-process, as its entry point does, and captures what it writes.</summary>
internal static class CliRun
{
    /// <summary>The clock of tests that compare times: 2025-03-14 09:26:53 UTC, shown in UTC.</summary>
    public static FakeTimeProvider FixedClock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2025, 3, 14, 9, 26, 53, TimeSpan.Zero));
        clock.SetLocalTimeZone(TimeZoneInfo.Utc);
        return clock;
    }

    /// <summary>An environment with no variables set (so none of this machine's AWS or CIRCUITBREAKER_* settings apply).</summary>
    public static CliEnvironment Environment(TimeProvider? clock = null, IReadOnlyDictionary<string, string>? variables = null) =>
        new(name => variables is not null && variables.TryGetValue(name, out var value) ? value : null, clock ?? TimeProvider.System);

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(Environment(), args);

    public static Task<CliResult> RunAsync(TimeProvider clock, params string[] args) => RunAsync(Environment(clock), args);

    public static async Task<CliResult> RunAsync(CliEnvironment environment, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await CliApplication.RunAsync(args, output, error, environment, TestContext.Current.CancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}
