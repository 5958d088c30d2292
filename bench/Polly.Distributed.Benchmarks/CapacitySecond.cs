namespace Polly.Distributed.Benchmarks;

/// <summary>One virtual second of a capacity run.</summary>
/// <param name="Second">Seconds since the dependency died (negative: before).</param>
/// <param name="Reads">Read requests that reached the item.</param>
/// <param name="Writes">Write requests that reached the item.</param>
/// <param name="Refused">Requests the store refused.</param>
/// <param name="DeadCalls">Calls that reached the dead dependency.</param>
/// <param name="Rejected">Calls the breakers rejected.</param>
internal sealed record CapacitySecond(int Second, long Reads, long Writes, long Refused, long DeadCalls, long Rejected);
