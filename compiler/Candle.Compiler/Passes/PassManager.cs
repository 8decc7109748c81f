using System.Diagnostics;
using Candle.Compiler.Analysis;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// A flat, named list of passes run in order. Each pass declares the lowest opt level it runs at, so one list
/// serves every level (see <see cref="PipelineFor"/>). Users add their own passes by name with
/// <see cref="InsertAfter"/> / <see cref="InsertBefore"/>.
/// </summary>
public sealed class PassManager
{
    private readonly List<IPass> _passes = [];

    /// <summary>An empty pipeline.</summary>
    public PassManager()
    {
    }

    /// <summary>A pipeline of <paramref name="passes"/> in order.</summary>
    public PassManager(IEnumerable<IPass> passes)
    {
        ArgumentNullException.ThrowIfNull(passes);
        foreach (var p in passes) Add(p);
    }

    /// <summary>The passes, in order.</summary>
    public IReadOnlyList<IPass> Passes => _passes;

    /// <summary>
    /// The default pipeline. O0: legalization only (decompose-composites, which acts only on ops the target lacks).
    /// O1: canonicalize, constant-folding, cse, dce. O2 adds algebraic-simplification, conv-affine-folding,
    /// pattern-recognition, matmul-merging (backends that ask for it), layout and fusion. O3 adds weight-prepacking and memory-aware-scheduling.
    /// </summary>
    public static PassManager CreateDefault() => new(
    [
        new Canonicalize(),
        new ConstantFolding(),
        new AlgebraicSimplification(),
        new ConvAffineFolding(),
        new PatternRecognition(),
        new DecomposeComposites(),
        new CommonSubexpressionElimination(),
        new MatMulMerging(),
        new Layout(),
        new WeightPrepacking(),
        new Fusion(),
        new DeadCodeElimination(),
        new MemoryAwareScheduling(),
    ]);

    /// <summary>Names of the passes that run at <paramref name="optLevel"/>, in order.</summary>
    public IReadOnlyList<string> PipelineFor(int optLevel) => [.. _passes.Where(p => p.Info.MinOptLevel <= optLevel).Select(p => p.Info.Name)];

    /// <summary>The pass named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such pass.</exception>
    public IPass this[string name] => _passes[IndexOf(name)];

    /// <summary>Appends a pass.</summary>
    /// <exception cref="ArgumentException">A pass of that name is already in the pipeline.</exception>
    public PassManager Add(IPass pass)
    {
        CheckNew(pass);
        _passes.Add(pass);
        return this;
    }

    /// <summary>Inserts <paramref name="pass"/> right after the pass named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No pass has that name.</exception>
    public PassManager InsertAfter(string name, IPass pass)
    {
        CheckNew(pass);
        _passes.Insert(IndexOf(name) + 1, pass);
        return this;
    }

    /// <summary>Inserts <paramref name="pass"/> right before the pass named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No pass has that name.</exception>
    public PassManager InsertBefore(string name, IPass pass)
    {
        CheckNew(pass);
        _passes.Insert(IndexOf(name), pass);
        return this;
    }

    /// <summary>Removes the pass named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No pass has that name.</exception>
    public PassManager Remove(string name)
    {
        _passes.RemoveAt(IndexOf(name));
        return this;
    }

    /// <summary>Checks that every pass's requirements come earlier in the pipeline.</summary>
    /// <exception cref="InvalidOperationException">A requirement is missing or comes later.</exception>
    public void Validate()
    {
        for (int i = 0; i < _passes.Count; i++)
        {
            foreach (string req in _passes[i].Info.Requires)
            {
                int j = _passes.FindIndex(p => p.Info.Name == req);
                if (j < 0 || j > i)
                {
                    throw new InvalidOperationException($"pass '{_passes[i].Info.Name}' requires '{req}' earlier in the pipeline ({string.Join(", ", _passes.Select(p => p.Info.Name))})");
                }
            }
        }
    }

    /// <summary>
    /// Runs the passes that <paramref name="context"/> enables, in order, calling instruments, timing each pass,
    /// recording node and kernel counts in <see cref="PassContext.Report"/> and verifying after each pass when asked.
    /// </summary>
    /// <exception cref="PassVerificationException">A pass produced an invalid graph (with verification on).</exception>
    public Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(context);
        Validate();
        var current = graph;
        foreach (var pass in _passes)
        {
            if (!context.ShouldRun(pass)) continue;
            current = RunOne(pass, current, context);
        }

        return current;
    }

    /// <summary>Runs one pass with the same instrumentation and verification as <see cref="Run"/>.</summary>
    public static Graph RunOne(IPass pass, Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(pass);
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(context);
        foreach (var i in context.Instruments) i.BeforePass(pass, graph, context);
        int nodesBefore = graph.Nodes.Count, kernelsBefore = KernelEstimate.Count(graph);
        var sw = Stopwatch.StartNew();
        var after = pass.Run(graph, context) ?? throw new InvalidOperationException($"pass '{pass.Info.Name}' returned null");
        sw.Stop();
        if (context.VerifyEachPass)
        {
            try
            {
                Verifier.Verify(after);
            }
            catch (IrException ex)
            {
                throw new PassVerificationException(pass.Info.Name, ex);
            }
        }

        var record = new PassRecord(pass.Info.Name, sw.Elapsed, nodesBefore, after.Nodes.Count, kernelsBefore, KernelEstimate.Count(after), !ReferenceEquals(after, graph));
        context.Report.Add(record);
        foreach (var i in context.Instruments) i.AfterPass(pass, graph, after, record, context);
        return after;
    }

    private int IndexOf(string name)
    {
        int i = _passes.FindIndex(p => p.Info.Name == name);
        return i >= 0 ? i : throw new KeyNotFoundException($"no pass named '{name}' in the pipeline ({string.Join(", ", _passes.Select(p => p.Info.Name))})");
    }

    private void CheckNew(IPass pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        if (_passes.Any(p => p.Info.Name == pass.Info.Name)) throw new ArgumentException($"the pipeline already has a pass named '{pass.Info.Name}'", nameof(pass));
    }
}
