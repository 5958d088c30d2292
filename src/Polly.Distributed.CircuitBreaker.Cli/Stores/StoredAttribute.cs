namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>One attribute of a stored item as text, unparsed: DynamoDB values carry their type ("N 5", "S OPEN"), Redis fields are their bytes.</summary>
internal sealed record StoredAttribute(string Name, string Text);
