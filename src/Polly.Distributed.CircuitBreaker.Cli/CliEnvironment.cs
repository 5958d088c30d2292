namespace Polly.Distributed.CircuitBreaker.Cli;

/// <summary>What the tool takes from its process: environment variables and the clock (with the local time zone).</summary>
internal sealed class CliEnvironment
{
    public CliEnvironment(Func<string, string?> getVariable, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        ArgumentNullException.ThrowIfNull(clock);
        GetVariable = getVariable;
        Clock = clock;
    }

    /// <summary>Gets the environment of this process and the system clock.</summary>
    public static CliEnvironment Process { get; } = new(Environment.GetEnvironmentVariable, TimeProvider.System);

    /// <summary>Gets a function that returns an environment variable's value, or <see langword="null"/> when it is not set.</summary>
    public Func<string, string?> GetVariable { get; }

    /// <summary>Gets the clock; its <see cref="TimeProvider.LocalTimeZone"/> is the zone times are shown in.</summary>
    public TimeProvider Clock { get; }

    /// <summary>Returns a variable's value, or <see langword="null"/> when it is unset or blank.</summary>
    public string? Variable(string name) => GetVariable(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value : null;

    public long NowUnixMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();
}
