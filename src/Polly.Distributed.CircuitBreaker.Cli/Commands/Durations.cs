using System.CommandLine.Parsing;
using System.Globalization;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>Reads durations as operators type them: <c>500ms</c>, <c>5s</c>, <c>2m</c>, or a number of seconds.</summary>
internal static class Durations
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        var trimmed = text.Trim();
        var (number, unit) = trimmed switch
        {
            _ when trimmed.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (trimmed[..^2], 1.0),
            _ when trimmed.EndsWith('s') || trimmed.EndsWith('S') => (trimmed[..^1], 1000.0),
            _ when trimmed.EndsWith('m') || trimmed.EndsWith('M') => (trimmed[..^1], 60_000.0),
            _ => (trimmed, 1000.0),
        };

        if (double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            && value * unit is > 0 and <= int.MaxValue)
        {
            duration = TimeSpan.FromMilliseconds(Math.Round(value * unit));
            return duration > TimeSpan.Zero;
        }

        duration = default;
        return false;
    }

    /// <summary>The parser of an option that takes a positive duration.</summary>
    public static TimeSpan ParseArgument(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (TryParse(text, out var duration))
        {
            return duration;
        }

        result.AddError($"'{text}' is not a duration: use for example 500ms, 5s or 1m.");
        return default;
    }
}
