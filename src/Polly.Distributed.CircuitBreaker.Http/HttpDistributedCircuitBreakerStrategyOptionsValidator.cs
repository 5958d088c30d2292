using Microsoft.Extensions.Options;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Validates configuration-bound <see cref="HttpDistributedCircuitBreakerStrategyOptions"/> at start-up with code generated at
/// compile time (no reflection, so NativeAOT rejects what JIT rejects). The store and circuit id are not required here: the
/// pipeline fills them in when it is built.
/// </summary>
[OptionsValidator]
internal sealed partial class HttpDistributedCircuitBreakerStrategyOptionsValidator : IValidateOptions<HttpDistributedCircuitBreakerStrategyOptions>
{
}
