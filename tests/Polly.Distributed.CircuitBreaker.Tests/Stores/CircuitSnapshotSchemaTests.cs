namespace Polly.Distributed.CircuitBreaker.Tests.Stores;

public class CircuitSnapshotSchemaTests
{
    [Fact]
    public void Parse_NoAttributes_ReadsDefaults()
    {
        var snapshot = CircuitSnapshotSchema.Parse(_ => null, out var reason);

        Assert.Null(reason);
        Assert.Equal(CircuitSnapshot.Initial, snapshot);
        Assert.Equal(1, snapshot.SchemaVersion);
    }

    [Theory]
    [InlineData("HALF", StoredCircuitState.HalfOpen)]
    [InlineData("HALF-OPEN", StoredCircuitState.HalfOpen)]
    [InlineData("OPEN", StoredCircuitState.Open)]
    [InlineData("CLOSED", StoredCircuitState.Closed)]
    public void Parse_StateText_ReadsState(string text, StoredCircuitState expected)
    {
        var snapshot = CircuitSnapshotSchema.Parse(name => name == "circuitState" ? text : null, out var reason);

        Assert.Null(reason);
        Assert.Equal(expected, snapshot.State);
    }

    [Theory]
    [InlineData("circuitState", "BROKEN", "unknown circuitState 'BROKEN'")]
    [InlineData("failureCount", "-1", "failureCount '-1'")]
    [InlineData("nextAttempt", "soon", "nextAttempt 'soon'")]
    [InlineData("successCount", "1.5.2", "successCount '1.5.2'")]
    [InlineData("successCount", " 2", "successCount ' 2'")]
    [InlineData("lastFailureTime", "Infinity", "lastFailureTime 'Infinity'")]
    public void Parse_MalformedAttribute_ReadsClosedWithReason(string attribute, string value, string reasonStart)
    {
        var snapshot = CircuitSnapshotSchema.Parse(name => name == attribute ? value : name == "circuitState" ? "OPEN" : "3", out var reason);

        Assert.Equal(CircuitSnapshot.Initial, snapshot);
        Assert.StartsWith(reasonStart, reason);
    }

    [Theory]
    [InlineData("1.75e12", 1_750_000_000_000)]
    [InlineData("3.0", 3)]
    [InlineData("42", 42)]
    [InlineData("1795819490356.5", 1_795_819_490_357)]
    [InlineData("2.4", 2)]
    [InlineData("9223372036854775808", long.MaxValue)]
    [InlineData("1e400", long.MaxValue)]
    public void Parse_JavaScriptNumberForms_ReadsWholeNumbers(string text, long expected)
    {
        var snapshot = CircuitSnapshotSchema.Parse(name => name == "nextAttempt" ? text : null, out var reason);

        Assert.Null(reason);
        Assert.Equal(expected, snapshot.NextAttemptUnixMs);
    }

    [Fact]
    public void Format_ThenParse_RoundTrips()
    {
        var snapshot = new CircuitSnapshot
        {
            State = StoredCircuitState.HalfOpen,
            FailureCount = 5,
            SuccessCount = 1,
            NextAttemptUnixMs = 1_750_000_010_000,
            LastFailureUnixMs = 1_750_000_000_000,
            ConsecutiveOpens = 2,
            StateTimestampUnixMs = 1_750_000_000_001,
            ProbeLeaseOwner = "abc",
            ProbeLeaseExpiresUnixMs = 1_750_000_030_000,
            OpenedBy = "3f9c0a2b7e614d58",
            OpenedReason = "HTTP 503",
        };
        var stored = CircuitSnapshotSchema.Format(snapshot).ToDictionary(p => p.Key, p => p.Value);

        var read = CircuitSnapshotSchema.Parse(name => stored.GetValueOrDefault(name), out _);

        Assert.Equal(snapshot, read);
        Assert.Equal("HALF-OPEN", stored["circuitState"]);
        Assert.Equal(CircuitSnapshotSchema.OwnedAttributes.Order(), stored.Keys.Order());
        Assert.Equal(8, CircuitSnapshotSchema.Format(snapshot with { ProbeLeaseOwner = null, OpenedBy = null, OpenedReason = null }).Count);
    }

    [Fact]
    public void ToCircuitState_Isolated_IsPollyIsolated()
    {
        var isolated = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = CircuitSnapshot.IsolatedUntilUnixMs };

        Assert.Equal(Polly.CircuitBreaker.CircuitState.Isolated, isolated.ToCircuitState());
        Assert.Equal(Polly.CircuitBreaker.CircuitState.Open, (isolated with { NextAttemptUnixMs = 5 }).ToCircuitState());
    }
}
