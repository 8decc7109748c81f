using Candle.Compiler.Ir;

namespace Candle.Torch;

/// <summary>The random draws of one trace: its seed input, once a random op asked for it, and the streams taken.</summary>
internal sealed class TraceDraws(Node? seed)
{
    /// <summary>The seed input (declared by the caller, or created by the first draw).</summary>
    public Node? Seed { get; set; } = seed;

    /// <summary>The number of draws taken: the stream of the next one.</summary>
    public long Streams { get; set; }
}
