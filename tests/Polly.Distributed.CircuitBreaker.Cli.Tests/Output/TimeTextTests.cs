using Microsoft.Extensions.Time.Testing;
using Polly.Distributed.CircuitBreaker.Cli.Output;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Output;

public sealed class TimeTextTests
{
    [Theory]
    [InlineData(8_500, "in 8 s")]
    [InlineData(-3_000, "3 s ago")]
    [InlineData(400, "now")]
    [InlineData(-400, "now")]
    [InlineData(125_000, "in 2 min")]
    [InlineData(-7_200_000, "2 h ago")]
    [InlineData(259_200_000, "in 3 d")]
    public void Relative_Distance_ReadsAsPeopleSayIt(long offsetMs, string expected) =>
        Assert.Equal(expected, TimeText.Relative(1_000_000_000 + offsetMs, 1_000_000_000));

    [Fact]
    public void Moment_InLocalZone_ShowsLocalClockTimeAndDateOnlyWhenNotToday()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2025, 3, 14, 23, 30, 0, TimeSpan.Zero));
        clock.SetLocalTimeZone(TimeZoneInfo.CreateCustomTimeZone("UTC+2", TimeSpan.FromHours(2), "UTC+2", "UTC+2"));
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();

        Assert.Equal("01:30:10 (in 10 s)", TimeText.Moment(now + 10_000, clock));
        Assert.Equal("00:30:00 (1 h ago)", TimeText.Moment(now - 3_600_000, clock));
        Assert.Equal("2025-03-14 23:30:00 (2 h ago)", TimeText.Moment(now - 7_200_000, clock));
        Assert.Equal("2025-03-15 01:30:10 (in 10 s)", TimeText.Moment(now + 10_000, clock, withDate: true));
        Assert.Equal("UTC+02:00", TimeText.ZoneOffset(clock));
    }

    [Theory]
    [InlineData(0L, "-")]
    [InlineData(-5L, "-")]
    [InlineData(long.MaxValue, "never (9999-12-31)")]
    [InlineData(253402300799999L, "never (9999-12-31)")]
    public void Moment_NeverOrPastYear9999_NamesItWithoutThrowing(long unixMs, string expected)
    {
        var clock = CliRun.FixedClock();
        clock.SetLocalTimeZone(TimeZoneInfo.CreateCustomTimeZone("UTC+14", TimeSpan.FromHours(14), "UTC+14", "UTC+14"));

        Assert.Equal(expected, TimeText.Moment(unixMs, clock));
    }

    [Fact]
    public void Utc_Time_IsIso8601WithMilliseconds() => Assert.Equal("2025-03-14T09:26:53.120Z", TimeText.Utc(1741944413120));
}
