using System.Diagnostics.CodeAnalysis;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Options of the distributed circuit breaker: a breaker whose state is shared by every process that uses the same store and circuit id.
/// </summary>
/// <typeparam name="TResult">The type of result the breaker handles.</typeparam>
public class DistributedCircuitBreakerStrategyOptions<TResult> : ResilienceStrategyOptions, IValidatableObject
{
    /// <summary>The default <see cref="ResilienceStrategyOptions.Name"/>.</summary>
    public const string DefaultName = "DistributedCircuitBreaker";

    // As in Polly's own options: the TimeSpan ranges are checked by the generated validator, without the attribute's type converter.
    private const string TimeSpanRangeJustification = "Checked by the source-generated options validator, which does not use RangeAttribute's type converter.";

    /// <summary>The environment variable whose value is the default <see cref="CircuitId"/>.</summary>
    public const string CircuitIdEnvironmentVariable = "AWS_LAMBDA_FUNCTION_NAME";

    /// <summary>
    /// Initializes a new instance of the <see cref="DistributedCircuitBreakerStrategyOptions{TResult}"/> class,
    /// with <see cref="CircuitId"/> taken from the <c>AWS_LAMBDA_FUNCTION_NAME</c> environment variable.
    /// </summary>
    public DistributedCircuitBreakerStrategyOptions()
    {
        Name = DefaultName;
        CircuitId = Environment.GetEnvironmentVariable(CircuitIdEnvironmentVariable);
    }

    /// <summary>
    /// Gets or sets the id of the shared circuit: 1 to 256 characters of <c>A-Z a-z 0-9 - _ . :</c>.
    /// Every process that uses the same store and id shares one circuit.
    /// </summary>
    /// <value>Defaults to the value of the <c>AWS_LAMBDA_FUNCTION_NAME</c> environment variable.</value>
    [CircuitId]
    public string? CircuitId { get; set; }

    /// <summary>Gets or sets the store that holds the shared state. Required.</summary>
    public ICircuitStateStore? StateStore { get; set; }

    /// <summary>Gets or sets the failures within <see cref="FailureWindow"/> that open a closed circuit.</summary>
    /// <value>Defaults to 5. At least 1.</value>
    [Range(1, int.MaxValue)]
    public int FailureThreshold { get; set; } = 5;

    /// <summary>Gets or sets the successes in half-open state that close the circuit.</summary>
    /// <value>Defaults to 2. At least 1.</value>
    [Range(1, int.MaxValue)]
    public int SuccessThreshold { get; set; } = 2;

    /// <summary>
    /// Gets or sets how long the circuit stays open after it opens from closed. Each failed half-open probe doubles it, up to <see cref="MaxBreakDuration"/>.
    /// </summary>
    /// <value>Defaults to 10 seconds. Greater than zero.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = TimeSpanRangeJustification)]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the longest break, however many probes failed.</summary>
    /// <value>Defaults to 60 seconds. At least <see cref="BreakDuration"/>.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = TimeSpanRangeJustification)]
    public TimeSpan MaxBreakDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Gets or sets how long failures count: when more than this has passed since the last failure, a closed circuit counts from zero again.
    /// </summary>
    /// <value>Defaults to 60 seconds. Greater than zero.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = TimeSpanRangeJustification)]
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Gets or sets how long a state read from the store is reused in this process before it is read again; zero turns the cache off.
    /// </summary>
    /// <value>Defaults to zero. At least zero.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = TimeSpanRangeJustification)]
    public TimeSpan CacheTtl { get; set; } = TimeSpan.Zero;

    /// <summary>Gets or sets the longest a single store call may take before the breaker gives up on it and lets the call through.</summary>
    /// <value>Defaults to 500 milliseconds. Greater than zero.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = TimeSpanRangeJustification)]
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Gets or sets how the breaker writes the shared state.</summary>
    /// <value>Defaults to <see cref="CircuitConsistency.LastWriterWins"/>.</value>
    [EnumDataType(typeof(CircuitConsistency))]
    public CircuitConsistency Consistency { get; set; } = CircuitConsistency.LastWriterWins;

    /// <summary>
    /// Gets or sets how long the half-open probe lease lasts in <see cref="CircuitConsistency.Atomic"/> mode: if the probing call
    /// never reports back (its process crashed), another call may probe after this long.
    /// </summary>
    /// <value>Defaults to 30 seconds. Greater than zero.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = TimeSpanRangeJustification)]
    public TimeSpan ProbeLeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets from how many distinct execution environments the failures inside <see cref="FailureWindow"/> must
    /// come before the circuit opens fleet-wide (a quorum), so that one environment with a problem of its own (a broken
    /// network path, a starved process) cannot open the circuit for a fleet whose dependency is healthy. Until the quorum is
    /// met, an environment whose own failures reach <see cref="FailureThreshold"/> opens only its own circuit, as Polly's
    /// breaker would. Needs <see cref="CircuitConsistency.Atomic"/>: the store counts the environments in the same request
    /// that counts the failure, which last-writer-wins writes cannot do without losing them.
    /// </summary>
    /// <value>Defaults to 1: the circuit opens on the count alone, as the Node library's does. From 1 to 100.</value>
    [Range(1, 100)]
    public int MinimumFailingEnvironments { get; set; } = 1;

    /// <summary>
    /// Gets or sets the id this breaker counts its failures under for <see cref="MinimumFailingEnvironments"/>;
    /// <see langword="null"/> takes <see cref="DistributedCircuitBreakerEnvironment.Id"/>. Set by simulations that run many
    /// environments in one process.
    /// </summary>
    internal string? EnvironmentId { get; set; }

    /// <summary>
    /// Gets or sets the predicate that decides whether an outcome counts as a failure. A <see cref="PredicateBuilder{TResult}"/> converts to it.
    /// </summary>
    /// <value>Defaults to every exception except <see cref="OperationCanceledException"/>.</value>
    [Required]
    public Func<CircuitBreakerPredicateArguments<TResult>, ValueTask<bool>> ShouldHandle { get; set; } =
        static args => new ValueTask<bool>(args.Outcome.Exception is not null and not OperationCanceledException);

    /// <summary>Gets or sets the callback invoked when this process opens the circuit.</summary>
    public Func<OnCircuitOpenedArguments<TResult>, ValueTask>? OnOpened { get; set; }

    /// <summary>Gets or sets the callback invoked when this process closes the circuit.</summary>
    public Func<OnCircuitClosedArguments<TResult>, ValueTask>? OnClosed { get; set; }

    /// <summary>Gets or sets the callback invoked when this process moves the circuit to half-open.</summary>
    public Func<OnCircuitHalfOpenedArguments, ValueTask>? OnHalfOpened { get; set; }

    /// <summary>Gets or sets the callback invoked when a store call fails or times out and the breaker fails open.</summary>
    public Func<OnCircuitStateStoreFailureArguments, ValueTask>? OnStateStoreFailure { get; set; }

    /// <summary>Gets or sets the control that isolates or closes the shared circuit fleet-wide.</summary>
    public DistributedCircuitBreakerManualControl? ManualControl { get; set; }

    /// <summary>Gets or sets the provider that reads the shared circuit state.</summary>
    /// <value>
    /// Defaults to <see langword="null"/>. The HttpClient glue and the <see cref="IServiceProvider"/> overload take the provider
    /// registered in the services, when there is one (the distributed circuit breaker health check registers one).
    /// </value>
    public DistributedCircuitBreakerStateProvider? StateProvider { get; set; }

    /// <summary>
    /// Gets or sets the logger for store failures and malformed items. When it is set, a store failure is logged here (with the
    /// store's error) and reported to Polly's telemetry without a severity, so Polly's telemetry logging does not log it twice.
    /// </summary>
    /// <value>
    /// Defaults to <see langword="null"/>: store failures reach logs through Polly's telemetry (severity Warning), when telemetry is configured.
    /// The HttpClient glue and the <see cref="IServiceProvider"/> overload take it from the services' logger factory.
    /// </value>
    public ILogger? Logger { get; set; }

    /// <summary>Returns a shallow copy, so that shared (for example configuration-bound) options can be adjusted per pipeline.</summary>
    internal DistributedCircuitBreakerStrategyOptions<TResult> Clone() => (DistributedCircuitBreakerStrategyOptions<TResult>)MemberwiseClone();

    /// <inheritdoc/>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxBreakDuration < BreakDuration)
        {
            yield return new ValidationResult(
                $"The {nameof(MaxBreakDuration)} ({MaxBreakDuration}) must be at least the {nameof(BreakDuration)} ({BreakDuration}).",
                [nameof(MaxBreakDuration)]);
        }

        if (MinimumFailingEnvironments > 1 && Consistency != CircuitConsistency.Atomic)
        {
            yield return new ValidationResult(
                $"The {nameof(MinimumFailingEnvironments)} ({MinimumFailingEnvironments}) needs {nameof(Consistency)} = {nameof(CircuitConsistency.Atomic)}: " +
                $"last-writer-wins writes overwrite each other's counts, so the environments behind them cannot be counted.",
                [nameof(MinimumFailingEnvironments)]);
        }
    }
}
