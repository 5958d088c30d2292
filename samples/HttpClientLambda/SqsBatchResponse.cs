namespace HttpClientLambda;

/// <summary>
/// The partial batch response (with <c>ReportBatchItemFailures</c> on the event source mapping): the messages listed go
/// back to the queue for a later retry, the others are deleted.
/// </summary>
/// <param name="BatchItemFailures">The messages to retry.</param>
public sealed record SqsBatchResponse(IReadOnlyList<SqsBatchItemFailure> BatchItemFailures);
