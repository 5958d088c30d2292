namespace Polly.Distributed.CircuitBreaker.Cli.Output;

/// <summary>Columns aligned with spaces, for people: text left-aligned, numbers right-aligned, no trailing spaces.</summary>
internal sealed class TextTable
{
    private const string Gap = "  ";
    private readonly string[] _headers;
    private readonly bool[] _rightAligned;
    private readonly List<string[]> _rows = [];

    public TextTable(params (string Header, bool RightAligned)[] columns)
    {
        _headers = [.. columns.Select(c => c.Header)];
        _rightAligned = [.. columns.Select(c => c.RightAligned)];
    }

    public void AddRow(params string[] cells)
    {
        if (cells.Length != _headers.Length)
        {
            throw new ArgumentException($"A row needs {_headers.Length} cells, not {cells.Length}.", nameof(cells));
        }

        _rows.Add(cells);
    }

    public void WriteTo(TextWriter writer)
    {
        var widths = new int[_headers.Length];
        foreach (var row in _rows.Prepend(_headers))
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in _rows.Prepend(_headers))
        {
            var cells = row.Select((cell, i) => _rightAligned[i] && !ReferenceEquals(row, _headers) ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]));
            writer.WriteLine(string.Join(Gap, cells).TrimEnd());
        }
    }
}
