using System.Globalization;

namespace Polly.Distributed.CircuitBreaker.Cli.Output;

/// <summary>Epoch-millisecond times as people on call read them: local clock time and how far away ("in 8 s", "3 s ago").</summary>
internal static class TimeText
{
    // Times this far out cannot be shown in every time zone (DateTimeOffset ends at 9999-12-31); only isolation and hostile items get there.
    private static readonly long LatestShownUnixMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() - (long)TimeSpan.FromDays(2).TotalMilliseconds;

    /// <summary>Returns how far <paramref name="unixMs"/> is from <paramref name="nowUnixMs"/>: "in 8 s", "3 min ago", "now".</summary>
    public static string Relative(long unixMs, long nowUnixMs)
    {
        var difference = unixMs - nowUnixMs;
        var seconds = Math.Abs(difference) / 1000;
        if (seconds < 1)
        {
            return "now";
        }

        var magnitude = seconds switch
        {
            < 60 => $"{seconds} s",
            < 60 * 60 => $"{seconds / 60} min",
            < 48 * 60 * 60 => $"{seconds / 3600} h",
            _ => $"{seconds / 86400} d",
        };
        return difference > 0 ? "in " + magnitude : magnitude + " ago";
    }

    /// <summary>
    /// Returns the local clock time of <paramref name="unixMs"/> followed by its distance from now, "14:03:12 (in 8 s)", with the
    /// date when it is not today or <paramref name="withDate"/> asks for it; "-" for 0 (never).
    /// </summary>
    public static string Moment(long unixMs, TimeProvider clock, bool withDate = false)
    {
        if (unixMs <= 0)
        {
            return "-";
        }

        if (unixMs >= LatestShownUnixMs)
        {
            return "never (9999-12-31)";
        }

        var zone = clock.LocalTimeZone;
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(unixMs), zone);
        var now = clock.GetUtcNow();
        var sameDay = local.Date == TimeZoneInfo.ConvertTime(now, zone).Date;
        var text = local.ToString(withDate || !sameDay ? "yyyy-MM-dd HH:mm:ss" : "HH:mm:ss", CultureInfo.InvariantCulture);
        return $"{text} ({Relative(unixMs, now.ToUnixTimeMilliseconds())})";
    }

    /// <summary>Returns the local clock time of now, for lines of a watch.</summary>
    public static string Now(TimeProvider clock) =>
        TimeZoneInfo.ConvertTime(clock.GetUtcNow(), clock.LocalTimeZone).ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>Returns an ISO 8601 UTC time for JSON, or <see langword="null"/> for 0 (never) and times past year 9999.</summary>
    public static string? Utc(long unixMs) =>
        unixMs <= 0 || unixMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            ? null
            : DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Returns the local zone's offset from UTC now, "UTC+01:00", to say which clock the times are on.</summary>
    public static string ZoneOffset(TimeProvider clock)
    {
        var offset = clock.LocalTimeZone.GetUtcOffset(clock.GetUtcNow());
        return "UTC" + (offset < TimeSpan.Zero ? "-" : "+") + offset.ToString(@"hh\:mm", CultureInfo.InvariantCulture);
    }
}
