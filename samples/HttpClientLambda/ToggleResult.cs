namespace HttpClientLambda;

/// <summary>The body of the <c>/toggle</c> route: the demo downstream's health after the flip.</summary>
public sealed record ToggleResult(bool Healthy);
