namespace Polly.Distributed.CircuitBreaker.Sidecar.Tests;

public sealed class SidecarSettingsTests
{
    [Fact]
    public void FromEnvironment_ReferenceVariables_AreApplied()
    {
        var settings = SidecarSettings.FromEnvironment(Variables(new()
        {
            ["CIRCUITBREAKER_TABLE"] = "circuits",
            ["CIRCUITBREAKER_PORT"] = "5000",
            ["CIRCUITBREAKER_FAILURE_THRESHOLD"] = "3",
            ["CIRCUITBREAKER_SUCCESS_THRESHOLD"] = "1",
            ["CIRCUITBREAKER_TIMEOUT_MS"] = "2000",
            ["CIRCUITBREAKER_MAX_TIMEOUT_MS"] = "8000",
            ["CIRCUITBREAKER_WINDOW_DURATION_MS"] = "30000",
            ["CIRCUITBREAKER_CONSISTENCY"] = "atomic",
            ["CIRCUITBREAKER_CACHE_TTL_MS"] = "0",
            ["CIRCUITBREAKER_MIN_FAILING_ENVIRONMENTS"] = "3",
        }));

        Assert.Equal(5000, settings.Port);
        Assert.Equal("circuits", settings.TableName);
        Assert.Equal(3, settings.Template.FailureThreshold);
        Assert.Equal(1, settings.Template.SuccessThreshold);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.Template.BreakDuration);
        Assert.Equal(TimeSpan.FromSeconds(8), settings.Template.MaxBreakDuration);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Template.FailureWindow);
        Assert.Equal(CircuitConsistency.Atomic, settings.Template.Consistency);
        Assert.Equal(3, settings.Template.MinimumFailingEnvironments);
    }

    [Fact]
    public void FromEnvironment_QuorumWithoutAtomic_FailsNamingBothVariables()
    {
        var error = Assert.Throws<InvalidOperationException>(() => SidecarSettings.FromEnvironment(Variables(new()
        {
            ["CIRCUITBREAKER_TABLE"] = "t",
            ["CIRCUITBREAKER_MIN_FAILING_ENVIRONMENTS"] = "2",
        })));

        Assert.Contains("CIRCUITBREAKER_MIN_FAILING_ENVIRONMENTS", error.Message, StringComparison.Ordinal);
        Assert.Contains("CIRCUITBREAKER_CONSISTENCY=Atomic", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromEnvironment_OnlyTable_UsesDefaults()
    {
        var settings = SidecarSettings.FromEnvironment(Variables(new() { ["CIRCUITBREAKER_TABLE"] = "circuits" }));

        Assert.Equal(4243, settings.Port);
        Assert.Equal(5, settings.Template.FailureThreshold);
        Assert.Null(settings.ItemExpiry);
        Assert.Equal("expiresAt", settings.ItemExpiryAttributeName);
    }

    [Fact]
    public void FromEnvironment_ItemExpiryVariables_AreApplied()
    {
        var settings = SidecarSettings.FromEnvironment(Variables(new()
        {
            ["CIRCUITBREAKER_TABLE"] = "circuits",
            ["CIRCUITBREAKER_ITEM_EXPIRY_SECONDS"] = "604800",
            ["CIRCUITBREAKER_ITEM_EXPIRY_ATTRIBUTE"] = "ttl",
        }));

        Assert.Equal(TimeSpan.FromDays(7), settings.ItemExpiry);
        Assert.Equal("ttl", settings.ItemExpiryAttributeName);
    }

    [Theory]
    [InlineData("CIRCUITBREAKER_PORT", "http")]
    [InlineData("CIRCUITBREAKER_PORT", "70000")]
    [InlineData("CIRCUITBREAKER_FAILURE_THRESHOLD", "0")]
    [InlineData("CIRCUITBREAKER_FAILURE_THRESHOLD", "5.5")]
    [InlineData("CIRCUITBREAKER_TIMEOUT_MS", "-1")]
    [InlineData("CIRCUITBREAKER_CONSISTENCY", "strong")]
    [InlineData("CIRCUITBREAKER_ITEM_EXPIRY_SECONDS", "3599")]
    [InlineData("CIRCUITBREAKER_ITEM_EXPIRY_SECONDS", "1d")]
    public void FromEnvironment_UnparseableValue_FailsNamingTheVariable(string name, string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => SidecarSettings.FromEnvironment(Variables(new() { ["CIRCUITBREAKER_TABLE"] = "t", [name] = value })));

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Contains(value, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromEnvironment_NoStore_FailsNamingBothVariables()
    {
        var error = Assert.Throws<InvalidOperationException>(() => SidecarSettings.FromEnvironment(Variables([])));

        Assert.Contains("CIRCUITBREAKER_TABLE", error.Message, StringComparison.Ordinal);
        Assert.Contains("CIRCUITBREAKER_REDIS", error.Message, StringComparison.Ordinal);
    }

    private static Func<string, string?> Variables(Dictionary<string, string> values) => name => values.GetValueOrDefault(name);
}
