using Polly.Distributed.CircuitBreaker.Cli.Commands;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("5s", 5_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("3", 3_000)]
    [InlineData(" 250MS ", 250)]
    public void TryParse_DurationAsOperatorsTypeIt_ReadsIt(string text, int milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0s")]
    [InlineData("-1s")]
    [InlineData("soon")]
    [InlineData("1h")]
    [InlineData("1e3ms")]
    public void TryParse_NotAPositiveDuration_Fails(string text) => Assert.False(Durations.TryParse(text, out _));
}
