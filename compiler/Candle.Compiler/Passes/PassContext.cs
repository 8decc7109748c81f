using Candle.Compiler.Backends;

namespace Candle.Compiler.Passes;

/// <summary>
/// Settings and records shared by the passes of one pipeline run: opt level, disabled passes, instruments,
/// whether to verify after each pass, the target's capabilities, analysis results passes publish, and the report.
/// </summary>
public sealed class PassContext
{
    /// <summary>A context for <paramref name="optLevel"/> (0..3).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside 0..3.</exception>
    public PassContext(int optLevel = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(optLevel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(optLevel, 3);
        OptLevel = optLevel;
    }

    /// <summary>Optimization level 0..3; passes whose <see cref="PassInfo.MinOptLevel"/> is higher are skipped.</summary>
    public int OptLevel { get; }

    /// <summary>Names of passes to skip.</summary>
    public ISet<string> DisabledPasses { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Instruments called around every pass, in order.</summary>
    public IList<IPassInstrument> Instruments { get; } = [];

    /// <summary>Run the IR verifier after every pass (on in tests and Debug builds).</summary>
    public bool VerifyEachPass { get; set; }
#if DEBUG
        = true;
#endif

    /// <summary>The target's capabilities, when known (decomposition and fusion consult them).</summary>
    public BackendCapabilities? Capabilities { get; set; }

    /// <summary>Analysis results passes publish for later passes and backends, by key.</summary>
    public IDictionary<string, object> Analyses { get; } = new Dictionary<string, object>(StringComparer.Ordinal);

    /// <summary>Per-pass records of this run.</summary>
    public PipelineReport Report { get; } = new();

    /// <summary>True when <paramref name="pass"/> runs under this context's level and disabled set.</summary>
    public bool ShouldRun(IPass pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        return pass.Info.MinOptLevel <= OptLevel && !DisabledPasses.Contains(pass.Info.Name);
    }
}
