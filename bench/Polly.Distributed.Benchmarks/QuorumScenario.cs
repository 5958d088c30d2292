namespace Polly.Distributed.Benchmarks;

/// <summary>A scenario of the quorum simulation: how many environments' calls fail (all of them: the dependency is down).</summary>
internal sealed record QuorumScenario(string Name, int SickEnvironments)
{
    public static IReadOnlyList<QuorumScenario> All { get; } =
    [
        new("1. One environment's path is broken", 1),
        new("2. Two sick environments", 2),
        new("3. The dependency is down for everyone", QuorumRun.Environments),
    ];

    public bool DependencyDown => SickEnvironments == QuorumRun.Environments;
}
