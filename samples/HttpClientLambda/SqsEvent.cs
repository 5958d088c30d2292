namespace HttpClientLambda;

/// <summary>The part of an SQS event a handler reads: its messages.</summary>
/// <param name="Records">The messages of the batch.</param>
public sealed record SqsEvent(IReadOnlyList<SqsMessage> Records);
