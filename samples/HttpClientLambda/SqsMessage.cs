namespace HttpClientLambda;

/// <summary>One SQS message of an event.</summary>
/// <param name="MessageId">The message id, which a batch item failure names.</param>
/// <param name="Body">The message body.</param>
public sealed record SqsMessage(string MessageId, string Body);
