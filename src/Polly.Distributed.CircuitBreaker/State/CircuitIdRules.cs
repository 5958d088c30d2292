using System.Text;

namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// What a circuit id may be: 1 to 256 characters of <c>A-Z a-z 0-9 - _ . :</c>.
/// </summary>
internal static class CircuitIdRules
{
    public const int MaxLength = 256;

    public static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';

    /// <summary>Describes what is wrong with an id, or returns <see langword="null"/> when it is valid.</summary>
    public static string? GetProblem(string? circuitId)
    {
        if (string.IsNullOrEmpty(circuitId))
        {
            return "is empty; set it, or set the AWS_LAMBDA_FUNCTION_NAME environment variable";
        }

        if (circuitId.Length > MaxLength)
        {
            return $"is {circuitId.Length} characters long; at most {MaxLength} are allowed";
        }

        for (var i = 0; i < circuitId.Length; i++)
        {
            if (!IsAllowed(circuitId[i]))
            {
                return $"'{circuitId}' has the character '{circuitId[i]}' (U+{(int)circuitId[i]:X4}) at position {i}; only A-Z a-z 0-9 - _ . : are allowed";
            }
        }

        return null;
    }

    /// <summary>Turns any text into a valid id: disallowed characters become '_', and long text is cut.</summary>
    public static string Sanitize(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, MaxLength));
        foreach (var c in text.AsSpan(0, Math.Min(text.Length, MaxLength)))
        {
            builder.Append(IsAllowed(c) ? c : '_');
        }

        return builder.Length == 0 ? "_" : builder.ToString();
    }
}
