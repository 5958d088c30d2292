using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One redis-server thread serving every request in turn, a fixed number per second. A request joins the queue; one that
/// would wait longer than the breaker's store timeout is answered with a timeout and never served (as if the client gave
/// up before sending it). The wait of a request served within the timeout is not modelled: it is answered at once.
/// </summary>
internal sealed class RedisServerCapacity(int requestsPerSecond, TimeSpan storeTimeout) : IItemCapacity
{
    private readonly TimeSpan _serviceTime = TimeSpan.FromTicks(TimeSpan.TicksPerSecond / requestsPerSecond);
    private TimeSpan _busyUntil;

    public bool OpensInSeparateRequest => false;

    public CircuitStateStoreException? Refuse(ItemRequest request, TimeSpan now)
    {
        var start = _busyUntil > now ? _busyUntil : now;
        if (start + _serviceTime - now > storeTimeout)
        {
            return new CircuitStateStoreException($"Timeout: the redis-server queue is {(start - now).TotalMilliseconds:0} ms long (simulated)")
            {
                Kind = CircuitStateStoreFailureKind.Timeout,
            };
        }

        _busyUntil = start + _serviceTime;
        return null;
    }
}
