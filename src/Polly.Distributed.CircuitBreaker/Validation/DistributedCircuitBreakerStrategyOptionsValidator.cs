using Microsoft.Extensions.Options;

namespace Polly.Distributed.CircuitBreaker.Validation;

/// <summary>
/// Checks the options' DataAnnotations and cross-property rules with code generated at compile time, so a trimmed or
/// NativeAOT build rejects exactly what a JIT build rejects.
/// </summary>
/// <typeparam name="TResult">The result type of the breaker.</typeparam>
[OptionsValidator]
internal sealed partial class DistributedCircuitBreakerStrategyOptionsValidator<TResult> : IValidateOptions<DistributedCircuitBreakerStrategyOptions<TResult>>
{
}
