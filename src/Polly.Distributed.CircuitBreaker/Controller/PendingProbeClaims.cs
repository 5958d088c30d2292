using System.Collections.Concurrent;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// The probe claims of this process whose answer it has not taken yet: sent and not answered, timed out, or abandoned by
/// a caller who cancelled. Such a claim may have landed. Exactly one party takes each: the call that sent it (its answer
/// arrived), a later call of this process that finds the lease on the item or in a late answer (it becomes that probe), or
/// the late answer when no call took it within a StoreTimeout (the lease is given back).
/// </summary>
internal sealed class PendingProbeClaims
{
    private const int PurgeAbove = 16;

    private readonly ConcurrentDictionary<string, long> _leaseExpiries = new(StringComparer.Ordinal);

    public void Add(string owner, long leaseExpiresUnixMs, long nowUnixMs)
    {
        if (_leaseExpiries.Count >= PurgeAbove)
        {
            // Claims whose answer never came and whose lease has lapsed can no longer wedge anything.
            foreach (var (pending, expires) in _leaseExpiries)
            {
                if (expires <= nowUnixMs)
                {
                    _leaseExpiries.TryRemove(pending, out _);
                }
            }
        }

        _leaseExpiries[owner] = leaseExpiresUnixMs;
    }

    /// <summary>Takes the claim: <see langword="true"/> for the one party that gets it.</summary>
    public bool TryTake(string owner) => _leaseExpiries.TryRemove(owner, out _);

    /// <summary>Whether <paramref name="owner"/> is a claim of this process still pending.</summary>
    public bool Contains(string? owner) => owner is not null && !_leaseExpiries.IsEmpty && _leaseExpiries.ContainsKey(owner);

    /// <summary>Takes the claim whose lease <paramref name="snapshot"/> holds, if it is one of this process's pending claims.</summary>
    public string? TryAdopt(CircuitSnapshot snapshot) => snapshot.ProbeLeaseOwner is { } owner && !_leaseExpiries.IsEmpty && TryTake(owner) ? owner : null;
}
