using System.Text;

namespace AspirePerf.TestSupport;

/// <summary>A TextWriter that keeps every line a child process wrote, so a test can wait for one and print them all.</summary>
public sealed class LineCapture : TextWriter
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_lock)
        {
            _text.Append(value);
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_lock)
        {
            _text.AppendLine(value);
        }
    }

    public string Text
    {
        get
        {
            lock (_lock)
            {
                return _text.ToString();
            }
        }
    }

    public bool Contains(string fragment) => Text.Contains(fragment, StringComparison.Ordinal);

    public IReadOnlyList<string> Lines => Text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
