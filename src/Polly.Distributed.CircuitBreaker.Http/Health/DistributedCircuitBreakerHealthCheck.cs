using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly.Distributed.CircuitBreaker.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Health;

/// <summary>
/// Reports the circuits of a <see cref="DistributedCircuitBreakerStateProvider"/>, each read from its store within a time
/// bound, all at once. It never throws and never waits past the bound, whatever the store does.
/// </summary>
internal sealed class DistributedCircuitBreakerHealthCheck(
    DistributedCircuitBreakerStateProvider provider,
    bool unhealthyWhenOpen,
    TimeSpan? storeTimeout,
    TimeProvider timeProvider) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var circuits = provider.Attached;
            if (circuits.Count == 0)
            {
                return HealthCheckResult.Healthy("No distributed circuit breaker uses the state provider yet: none of their pipelines has been built.");
            }

            var reports = await Task.WhenAll(circuits.Select(circuit => ReadAsync(circuit, cancellationToken))).ConfigureAwait(false);
            Array.Sort(reports, static (a, b) => string.CompareOrdinal(a.CircuitId, b.CircuitId));

            var status = HealthStatus.Healthy;
            var data = new Dictionary<string, object>(StringComparer.Ordinal);
            var unwell = new List<string>();
            foreach (var report in reports)
            {
                var circuitStatus = report.Status(unhealthyWhenOpen);
                if (circuitStatus != HealthStatus.Healthy)
                {
                    unwell.Add(report.Describe());
                }

                // HealthStatus orders Unhealthy < Degraded < Healthy.
                status = circuitStatus < status ? circuitStatus : status;
                data[report.CircuitId] = report.ToData();
            }

            var closed = reports.Length - unwell.Count;
            var description = unwell.Count == 0
                ? $"All {reports.Length} distributed circuits are closed."
                : $"{closed} of {reports.Length} distributed circuits closed; {string.Join("; ", unwell)}.";
            return new HealthCheckResult(status, description, exception: null, data);
        }
#pragma warning disable CA1031 // A health check reports; it never throws.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Degraded("The distributed circuits could not be checked.", ex);
        }
    }

    private async Task<CircuitHealthReport> ReadAsync(DistributedCircuitBreakerStateProvider.AttachedCircuit circuit, CancellationToken cancellationToken)
    {
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // On the thread pool, so that a store client that blocks its calling thread (resolving credentials, connecting) is
        // bounded as well.
        var read = Task.Run(() => circuit.ReadAsync(abandon.Token), CancellationToken.None);
        try
        {
            var snapshot = await read.WaitAsync(storeTimeout ?? circuit.StoreTimeout, timeProvider, cancellationToken).ConfigureAwait(false);
            return new CircuitHealthReport(circuit.CircuitId, snapshot, circuit.LocalState(), StoreError: null);
        }
#pragma warning disable CA1031 // Any store error reads as an unreachable store; the read is stopped and its late error observed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await abandon.CancelAsync().ConfigureAwait(false);
            _ = read.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return new CircuitHealthReport(circuit.CircuitId, circuit.LastKnown(), circuit.LocalState(), CircuitStoreMetrics.ErrorType(ex));
        }
    }
}
