using Polly.Distributed.CircuitBreaker.Cli.Output;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Output;

public sealed class TextTableTests
{
    [Fact]
    public void WriteTo_Rows_AlignsColumnsRightAlignsNumbersAndTrimsLineEnds()
    {
        var table = new TextTable(("ID", false), ("COUNT", true), ("NOTE", false));
        table.AddRow("a", "5", "-");
        table.AddRow("longer-id", "12345", string.Empty);
        using var output = new StringWriter();

        table.WriteTo(output);

        Assert.Equal(["ID         COUNT  NOTE", "a              5  -", "longer-id  12345"], output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void AddRow_WrongNumberOfCells_Throws() =>
        Assert.Throws<ArgumentException>(() => new TextTable(("A", false), ("B", false)).AddRow("only one"));
}
