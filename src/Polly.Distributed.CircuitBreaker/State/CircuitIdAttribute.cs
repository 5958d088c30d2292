using System.ComponentModel.DataAnnotations;

namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// Validates a circuit id against <see cref="CircuitIdRules"/>, naming the problem in the message.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class CircuitIdAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        var problem = CircuitIdRules.GetProblem(value as string);
        return problem is null
            ? ValidationResult.Success
            : new ValidationResult($"The {validationContext.MemberName} {problem}.", [validationContext.MemberName!]);
    }
}
