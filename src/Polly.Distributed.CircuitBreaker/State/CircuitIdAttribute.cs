using System.ComponentModel.DataAnnotations;

namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// Validates a circuit id against <see cref="CircuitIdRules"/>, naming the problem in the message. A missing id is not
/// judged here: the HTTP glue fills it in when the pipeline is built, and the pipeline builder requires it.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class CircuitIdAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        if (value is null)
        {
            return ValidationResult.Success;
        }

        var problem = CircuitIdRules.GetProblem(value as string);
        return problem is null
            ? ValidationResult.Success
            : new ValidationResult($"The {validationContext.MemberName} {problem}.", [validationContext.MemberName!]);
    }
}
