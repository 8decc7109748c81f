namespace Candle.Compiler.Passes;

/// <summary>What a pass is called, from which opt level it runs, and which passes must run before it.</summary>
/// <param name="Name">The unique name pipelines refer to (kebab-case, e.g. "constant-folding").</param>
/// <param name="MinOptLevel">The lowest optimization level (0..3) at which the pass runs.</param>
/// <param name="Requires">Names of passes that must come earlier in a pipeline that contains this pass.</param>
public sealed record PassInfo(string Name, int MinOptLevel, IReadOnlyList<string> Requires)
{
    /// <summary>A pass with no requirements.</summary>
    public PassInfo(string name, int minOptLevel)
        : this(name, minOptLevel, [])
    {
    }
}
