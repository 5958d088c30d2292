namespace Polly.Distributed.Benchmarks;

/// <summary>The store requests of the emulator load's loop that started in one whole second of the run.</summary>
/// <param name="Started">How many started.</param>
/// <param name="MedianMs">The median time they took, in ms.</param>
/// <param name="Reads">How many of them were reads.</param>
/// <param name="Counts">How many of them were failure counts (the rest: probe claims and other compare-and-set writes).</param>
internal sealed record SecondOfRequests(int Started, double MedianMs, int Reads, int Counts);
