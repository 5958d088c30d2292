using System.Globalization;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The sidecar's configuration, from environment variables named as the reference extension's (CIRCUITBREAKER_TABLE,
/// CIRCUITBREAKER_PORT, CIRCUITBREAKER_FAILURE_THRESHOLD, ...) plus this project's own. A value that does not parse is a
/// start-up error naming the variable, never a silent default.
/// </summary>
internal sealed record SidecarSettings(
    int Port,
    string? TableName,
    string? DynamoDbServiceUrl,
    string? RedisConnectionString,
    DistributedCircuitBreakerStrategyOptions Template)
{
    public const int DefaultPort = 4243;

    // The stores' own bounds of an item expiry, in seconds.
    private static readonly int MinimumItemExpirySeconds = (int)DynamoDbCircuitStateStoreOptions.MinimumItemExpiry.TotalSeconds;
    private static readonly int MaximumItemExpirySeconds = (int)TimeSpan.FromDays(3650).TotalSeconds;

    /// <summary>Gets how long an item or key is kept once all it holds is over (CIRCUITBREAKER_ITEM_EXPIRY_SECONDS); <see langword="null"/> keeps it forever.</summary>
    public TimeSpan? ItemExpiry { get; init; }

    /// <summary>Gets the DynamoDB attribute of the expiry (CIRCUITBREAKER_ITEM_EXPIRY_ATTRIBUTE), the table's time-to-live attribute.</summary>
    public string ItemExpiryAttributeName { get; init; } = DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName;

    public static SidecarSettings FromEnvironment(Func<string, string?> variable)
    {
        var errors = new List<string>();
        var options = new DistributedCircuitBreakerStrategyOptions { CircuitId = "template" };
        var port = Integer(variable, "CIRCUITBREAKER_PORT", 1, 65_535, errors) ?? DefaultPort;
        options.FailureThreshold = Integer(variable, "CIRCUITBREAKER_FAILURE_THRESHOLD", 1, int.MaxValue, errors) ?? options.FailureThreshold;
        options.SuccessThreshold = Integer(variable, "CIRCUITBREAKER_SUCCESS_THRESHOLD", 1, int.MaxValue, errors) ?? options.SuccessThreshold;
        options.BreakDuration = Milliseconds(variable, "CIRCUITBREAKER_TIMEOUT_MS", errors) ?? options.BreakDuration;
        options.MaxBreakDuration = Milliseconds(variable, "CIRCUITBREAKER_MAX_TIMEOUT_MS", errors) ?? options.MaxBreakDuration;
        options.FailureWindow = Milliseconds(variable, "CIRCUITBREAKER_WINDOW_DURATION_MS", errors) ?? options.FailureWindow;
        options.CacheTtl = Milliseconds(variable, "CIRCUITBREAKER_CACHE_TTL_MS", errors, allowZero: true) ?? options.CacheTtl;
        options.StoreTimeout = Milliseconds(variable, "CIRCUITBREAKER_STORE_TIMEOUT_MS", errors) ?? options.StoreTimeout;
        options.ProbeLeaseDuration = Milliseconds(variable, "CIRCUITBREAKER_PROBE_LEASE_MS", errors) ?? options.ProbeLeaseDuration;
        options.MinimumFailingEnvironments = Integer(variable, "CIRCUITBREAKER_MIN_FAILING_ENVIRONMENTS", 1, 100, errors) ?? options.MinimumFailingEnvironments;
        if (variable("CIRCUITBREAKER_CONSISTENCY") is { } consistency)
        {
            if (Enum.TryParse<CircuitConsistency>(consistency, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed))
            {
                options.Consistency = parsed;
            }
            else
            {
                errors.Add($"CIRCUITBREAKER_CONSISTENCY is '{consistency}': use LastWriterWins or Atomic.");
            }
        }

        var table = variable("CIRCUITBREAKER_TABLE");
        var redis = variable("CIRCUITBREAKER_REDIS");
        if (string.IsNullOrEmpty(table) && string.IsNullOrEmpty(redis))
        {
            errors.Add("Set CIRCUITBREAKER_TABLE (a DynamoDB table) or CIRCUITBREAKER_REDIS (a Redis connection string).");
        }

        if (options.MaxBreakDuration < options.BreakDuration)
        {
            errors.Add($"CIRCUITBREAKER_MAX_TIMEOUT_MS ({options.MaxBreakDuration.TotalMilliseconds}) is below CIRCUITBREAKER_TIMEOUT_MS ({options.BreakDuration.TotalMilliseconds}).");
        }

        var itemExpiry = Integer(variable, "CIRCUITBREAKER_ITEM_EXPIRY_SECONDS", MinimumItemExpirySeconds, MaximumItemExpirySeconds, errors) is { } seconds
            ? TimeSpan.FromSeconds(seconds)
            : (TimeSpan?)null;
        if (options.MinimumFailingEnvironments > 1 && options.Consistency != CircuitConsistency.Atomic)
        {
            errors.Add($"CIRCUITBREAKER_MIN_FAILING_ENVIRONMENTS ({options.MinimumFailingEnvironments}) needs CIRCUITBREAKER_CONSISTENCY=Atomic.");
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("The sidecar's configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }

        return new SidecarSettings(port, table, variable("DYNAMODB_SERVICE_URL"), redis, options)
        {
            ItemExpiry = itemExpiry,
            ItemExpiryAttributeName = variable("CIRCUITBREAKER_ITEM_EXPIRY_ATTRIBUTE") ?? DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName,
        };
    }

    /// <summary>Whether an id may name a circuit: 1 to 256 characters of <c>A-Z a-z 0-9 - _ . :</c>.</summary>
    public static bool IsValidCircuitId(string id) => CircuitIdRules.GetProblem(id) is null;

    private static int? Integer(Func<string, string?> variable, string name, int min, int max, List<string> errors)
    {
        if (variable(name) is not { } text)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors.Add($"{name} is '{text}': expected a whole number from {min} to {max}.");
        return null;
    }

    private static TimeSpan? Milliseconds(Func<string, string?> variable, string name, List<string> errors, bool allowZero = false) =>
        Integer(variable, name, allowZero ? 0 : 1, int.MaxValue, errors) is { } ms ? TimeSpan.FromMilliseconds(ms) : null;
}
