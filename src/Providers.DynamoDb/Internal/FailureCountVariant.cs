namespace Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

/// <summary>Which conditional request counts a failure on an item as last seen.</summary>
/// <param name="Restart">The count starts over: the window ended (or, with a quorum, the count is 0).</param>
/// <param name="IdsFull">The item keeps no more recent write ids.</param>
/// <param name="AddsEnvironment">With a quorum, the request adds its environment to the episode's set, which has room.</param>
internal readonly record struct FailureCountVariant(bool Restart, bool IdsFull, bool AddsEnvironment);
