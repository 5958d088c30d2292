using ScottPlot;

namespace HttpClientLambda.LocalFleet;

/// <summary>Draws the demo as a PNG: calls that reached the downstream per interval, one line per breaker, the dead phase shaded.</summary>
internal static class FleetChart
{
    public static void Save(IReadOnlyList<ScenarioResult> results, TimeSpan interval, string path)
    {
        var plot = new Plot();
        var end = results.Max(r => r.DownstreamCalls.Count == 0 ? r.HealedAt : r.DownstreamCalls.Max());
        var buckets = (int)Math.Ceiling(end / interval) + 1;
        var xs = Enumerable.Range(0, buckets).Select(i => (i + 0.5) * interval.TotalSeconds).ToArray();
        foreach (var result in results)
        {
            var counts = new double[buckets];
            foreach (var call in result.DownstreamCalls)
            {
                counts[(int)(call / interval)]++;
            }

            var line = plot.Add.Scatter(xs, counts);
            line.LegendText = result.Setup.Title;
            line.MarkerSize = 3;
        }

        var first = results[0];
        var dead = plot.Add.HorizontalSpan(first.KilledAt.TotalSeconds, first.HealedAt.TotalSeconds);
        dead.LegendText = "downstream dead";
        var healed = plot.Add.VerticalLine(first.HealedAt.TotalSeconds);
        healed.LegendText = "downstream healed";
        healed.LinePattern = LinePattern.Dashed;

        plot.Title($"Calls reaching the downstream per {interval.TotalMilliseconds:0} ms");
        plot.XLabel("seconds since the start of the run");
        plot.YLabel("calls");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1000, 500);
    }
}
