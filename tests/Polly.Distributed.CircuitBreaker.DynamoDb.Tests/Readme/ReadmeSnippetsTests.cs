using System.Text.RegularExpressions;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests.Readme;

/// <summary>Every C# snippet of README.md is compiled (as <see cref="ReadmeSnippets"/>), so the examples cannot rot.</summary>
public sealed partial class ReadmeSnippetsTests
{
    [Fact]
    public void ReadmeSnippets_EverySnippet_IsCompiledVerbatim()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var mirror = File.ReadAllLines(Path.Combine(root, "tests", "Polly.Distributed.CircuitBreaker.DynamoDb.Tests", "Readme", "ReadmeSnippets.cs"));
        var snippets = CSharpBlock().Matches(readme).Select(match => match.Groups[1].Value.Split('\n')).ToArray();

        Assert.NotEmpty(snippets);
        for (var i = 0; i < snippets.Length; i++)
        {
            var start = Array.FindIndex(mirror, line => line.Trim() == $"// README snippet {i + 1}");
            var end = Array.FindIndex(mirror, line => line.Trim() == $"// end of README snippet {i + 1}");
            Assert.True(start >= 0 && end > start, $"ReadmeSnippets.cs has no snippet {i + 1}");

            var compiled = Normalize(mirror[(start + 1)..end]);
            var written = Normalize(snippets[i].Where(line => !UsingDirective().IsMatch(line)));
            Assert.Equal(written, compiled);
            Assert.All(snippets[i].Where(line => UsingDirective().IsMatch(line)), line => Assert.Contains(line.Trim(), mirror));
        }

        Assert.DoesNotContain(mirror, line => line.Trim() == $"// README snippet {snippets.Length + 1}");
    }

    private static string[] Normalize(IEnumerable<string> lines) =>
        [.. lines.Select(line => line.Trim()).Where(line => line.Length > 0)];

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Polly.Distributed.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (Polly.Distributed.sln) was not found above the test's directory.");
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^using [\w.]+;$")]
    private static partial Regex UsingDirective();
}
