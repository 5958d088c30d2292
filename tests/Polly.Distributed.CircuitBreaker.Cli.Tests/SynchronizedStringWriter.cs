using System.Text;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

/// <summary>A text writer that a running command writes to while the test reads what it wrote so far.</summary>
internal sealed class SynchronizedStringWriter : TextWriter
{
    private readonly StringBuilder _text = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_text)
        {
            _text.Append(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_text)
        {
            _text.Append(value);
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
