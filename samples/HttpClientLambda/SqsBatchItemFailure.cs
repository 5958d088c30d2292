namespace HttpClientLambda;

/// <summary>A message that goes back to the queue.</summary>
/// <param name="ItemIdentifier">Its message id.</param>
public sealed record SqsBatchItemFailure(string ItemIdentifier);
