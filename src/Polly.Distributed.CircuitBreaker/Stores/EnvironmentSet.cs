using System.Collections;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// An immutable set of execution environment ids with value equality, as stored in the <c>failingEnvironments</c>
/// attribute: the distinct environments whose failures the current counting episode holds.
/// </summary>
public sealed class EnvironmentSet : IReadOnlyCollection<string>, IEquatable<EnvironmentSet>
{
    private readonly string[] _ids;

    private EnvironmentSet(string[] ids) => _ids = ids;

    /// <summary>Gets the set with no environment.</summary>
    public static EnvironmentSet Empty { get; } = new([]);

    /// <inheritdoc/>
    public int Count => _ids.Length;

    /// <summary>Creates a set of the given ids; blanks and duplicates are dropped.</summary>
    /// <param name="ids">The environment ids.</param>
    /// <returns>The set.</returns>
    public static EnvironmentSet Of(IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        string[] distinct = [.. ids.Where(id => !string.IsNullOrWhiteSpace(id)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        return distinct.Length == 0 ? Empty : new EnvironmentSet(distinct);
    }

    /// <summary>Reads the stored text form: ids separated by spaces.</summary>
    /// <param name="text">The stored text, or <see langword="null"/> when the attribute is missing.</param>
    /// <returns>The set.</returns>
    public static EnvironmentSet Parse(string? text) =>
        string.IsNullOrWhiteSpace(text) ? Empty : Of(text.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Whether the set holds <paramref name="id"/>.</summary>
    /// <param name="id">An environment id.</param>
    /// <returns><see langword="true"/> when it does.</returns>
    public bool Contains(string id) => Array.BinarySearch(_ids, id, StringComparer.Ordinal) >= 0;

    /// <summary>The set with <paramref name="id"/> added.</summary>
    /// <param name="id">An environment id.</param>
    /// <returns>This set when it already holds the id, else a new one.</returns>
    public EnvironmentSet With(string id) => Contains(id) ? this : Of([.. _ids, id]);

    /// <inheritdoc/>
    public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)_ids).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(EnvironmentSet? other) => other is not null && _ids.AsSpan().SequenceEqual(other._ids);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as EnvironmentSet);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var id in _ids)
        {
            hash.Add(id, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    /// <summary>The stored text form: the ids in ordinal order, separated by spaces.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Join(' ', _ids);
}
