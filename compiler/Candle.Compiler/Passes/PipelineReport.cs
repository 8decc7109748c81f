using System.Globalization;
using System.Text;

namespace Candle.Compiler.Passes;

/// <summary>The record of a pipeline run: one <see cref="PassRecord"/> per pass that ran, in order.</summary>
public sealed class PipelineReport
{
    private readonly List<PassRecord> _passes = [];

    /// <summary>The passes that ran, in order.</summary>
    public IReadOnlyList<PassRecord> Passes => _passes;

    /// <summary>Nodes of the graph before the first pass (or null before any pass ran).</summary>
    public int? InitialNodes => _passes.Count > 0 ? _passes[0].NodesBefore : null;

    /// <summary>Kernel estimate before the first pass (or null).</summary>
    public int? InitialKernels => _passes.Count > 0 ? _passes[0].KernelsBefore : null;

    /// <summary>Nodes after the last pass (or null).</summary>
    public int? FinalNodes => _passes.Count > 0 ? _passes[^1].NodesAfter : null;

    /// <summary>Kernel estimate after the last pass (or null).</summary>
    public int? FinalKernels => _passes.Count > 0 ? _passes[^1].KernelsAfter : null;

    /// <summary>
    /// The kernel calls the compiled plan runs (generated kernels, library kernels, copies and fills), once the backend
    /// has lowered the optimized graph; null before lowering or for a backend without plans.
    /// </summary>
    public int? KernelsRun { get; set; }

    /// <summary>Total time of all passes.</summary>
    public TimeSpan TotalTime => TimeSpan.FromTicks(_passes.Sum(p => p.Elapsed.Ticks));

    /// <summary>Adds a record.</summary>
    public void Add(PassRecord record) => _passes.Add(record ?? throw new ArgumentNullException(nameof(record)));

    /// <summary>A table: pass, nodes, kernels, time.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"{"pass",-28} {"nodes",13} {"kernels",13} {"ms",9}\n");
        foreach (var p in _passes)
        {
            sb.Append(ci, $"{p.Pass,-28} {$"{p.NodesBefore}→{p.NodesAfter}",13} {$"{p.KernelsBefore}→{p.KernelsAfter}",13} {p.Elapsed.TotalMilliseconds,9:F2}\n");
        }

        sb.Append(ci, $"{"total",-28} {$"{InitialNodes}→{FinalNodes}",13} {$"{InitialKernels}→{FinalKernels}",13} {TotalTime.TotalMilliseconds,9:F2}\n");
        if (KernelsRun is int run) sb.Append(ci, $"{"kernels the plan runs",-28} {string.Empty,13} {run,13}\n");
        return sb.ToString();
    }
}
