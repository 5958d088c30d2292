using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// DynamoDB's limit for one partition key: 3,000 read units or 1,000 write units per second, reads and writes sharing
/// one budget (reads / 3,000 + writes / 1,000 at most 1). An eventually consistent read of an item under 4 KB takes half
/// a read unit, a write of an item under 1 KB one write unit, whether its condition holds or not. No burst or adaptive
/// capacity: at most one second's budget in any second (a sliding window of 10 ms slots). A refused request is answered
/// at once with a throttling error and takes nothing from the budget.
/// </summary>
internal sealed class DynamoDbItemCapacity : IItemCapacity
{
    // The budget in half read units: 3,000 read units are 6,000 eventually consistent reads, 1,000 write units cost as much.
    private const int BudgetPerSecond = 6_000;
    private const int ReadCost = 1;
    private const int WriteCost = 6;
    private const int SlotMs = 10;
    private const int Slots = 1_000 / SlotMs;

    private readonly int[] _used = new int[Slots];
    private long _slot = -1;
    private int _usedInWindow;

    public bool OpensInSeparateRequest => true;

    public CircuitStateStoreException? Refuse(ItemRequest request, TimeSpan now)
    {
        SlideTo((long)now.TotalMilliseconds / SlotMs);
        var cost = request == ItemRequest.Read ? ReadCost : WriteCost;
        if (_usedInWindow + cost > BudgetPerSecond)
        {
            return new CircuitStateStoreException(
                "ProvisionedThroughputExceededException: the item's 3,000 read units or 1,000 write units per second are spent (simulated)")
            {
                Kind = CircuitStateStoreFailureKind.Throttled,
            };
        }

        _used[_slot % Slots] += cost;
        _usedInWindow += cost;
        return null;
    }

    private void SlideTo(long slot)
    {
        for (var expired = Math.Max(_slot + 1, slot - Slots + 1); expired <= slot; expired++)
        {
            _usedInWindow -= _used[expired % Slots];
            _used[expired % Slots] = 0;
        }

        _slot = Math.Max(_slot, slot);
    }
}
