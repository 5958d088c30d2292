using System.ComponentModel.DataAnnotations;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Validation;

/// <summary>
/// Rejects options a breaker cannot be built from, before Polly sees them: the generated validator's rules plus the members
/// that only the pipeline needs (a store and a circuit id), which configuration-bound options may still lack.
/// </summary>
internal static class StrategyOptionsGuard
{
    public static void ThrowIfInvalid<TResult>(DistributedCircuitBreakerStrategyOptions<TResult> options)
    {
        var errors = new List<string>();
        if (options.StateStore is null)
        {
            errors.Add($"The {nameof(options.StateStore)} is required: register a store (AddDynamoDbCircuitStateStore, AddRedisCircuitStateStore) or set it.");
        }

        if (options.CircuitId is null)
        {
            errors.Add($"The {nameof(options.CircuitId)} {CircuitIdRules.GetProblem(null)}.");
        }

        var result = new DistributedCircuitBreakerStrategyOptionsValidator<TResult>().Validate(name: null, options);
        if (result.Failed)
        {
            errors.AddRange(result.Failures);
        }

        if (errors.Count > 0)
        {
            throw new ValidationException(
                $"The '{options.GetType().Name}' are invalid.{Environment.NewLine}{Environment.NewLine}Validation Errors:{Environment.NewLine}" +
                string.Join(Environment.NewLine, errors));
        }
    }
}
