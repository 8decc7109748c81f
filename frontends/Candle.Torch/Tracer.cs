using Candle.Compiler.Ir;
using Candle.Torch.Nn;

namespace Candle.Torch;

/// <summary>
/// Turns C# model code into an IR <see cref="Graph"/>. Inside a trace nothing is evaluated: inputs are
/// symbolic tensors over Input nodes, parameters become Constant nodes named by their state-dict names,
/// and shape or dtype mistakes raise an <see cref="IrException"/> naming the op, the shapes and the dtypes.
/// Outside a trace, ops on tensors that hold data run at once (eager mode); both give the same results.
/// Random ops (dropout in training mode) draw from the int64 scalar input <see cref="SeedInputName"/>, which the trace
/// adds after the declared inputs unless it is declared among them, so a compiled trace takes a fresh seed per run.
/// </summary>
public static class Tracer
{
    /// <summary>The name of the graph input holding the seed of a trace's random ops (an int64 scalar).</summary>
    public const string SeedInputName = "rng.seed";

    [ThreadStatic]
    private static int t_depth;

    [ThreadStatic]
    private static TraceDraws? t_draws;

    /// <summary>True while the current thread is inside <see cref="Trace(Func{Tensor[], Tensor[]}, TraceInput[])"/>.</summary>
    public static bool IsTracing => t_depth > 0;

    /// <summary>Traces <paramref name="fn"/> over symbolic inputs; outputs are named output0, output1, ...</summary>
    public static Graph Trace(Func<Tensor[], Tensor[]> fn, params TraceInput[] inputs) => Trace(fn, inputs, null);

    /// <summary>Traces <paramref name="fn"/> over symbolic inputs with the given output names.</summary>
    /// <exception cref="IrException">The traced code is ill-typed, or the graph does not verify.</exception>
    public static Graph Trace(Func<Tensor[], Tensor[]> fn, IReadOnlyList<TraceInput> inputs, IReadOnlyList<string>? outputNames)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(inputs);
        var nodes = inputs.Select(i => i.ToNode()).ToArray();
        var declared = nodes.FirstOrDefault(n => n.Attr<InputAttrs>().Name == SeedInputName);
        if (declared is not null && (declared.DType != Runtime.DType.I64 || declared.Shape.Rank != 0))
        {
            throw new ArgumentException($"trace input '{SeedInputName}' holds the seed of random ops and must be an int64 scalar, not {declared.TypeString}", nameof(inputs));
        }

        Tensor[] outputs;
        var outer = t_draws;
        var draws = new TraceDraws(declared);
        t_draws = draws;
        t_depth++;
        try
        {
            outputs = fn([.. nodes.Select(n => Tensor.FromNode(n))]);
        }
        finally
        {
            t_depth--;
            t_draws = outer;
        }

        if (declared is null && draws.Seed is { } seed) nodes = [.. nodes, seed];

        if (outputs is null || outputs.Length == 0) throw new ArgumentException("the traced function returned no outputs", nameof(fn));
        if (outputNames is not null && outputNames.Count != outputs.Length)
        {
            throw new ArgumentException($"the traced function returned {outputs.Length} outputs but {outputNames.Count} output names were given", nameof(outputNames));
        }

        var graph = new Graph(nodes, outputs.Select(o => o.Node), outputNames);
        Verifier.Verify(graph);
        return graph;
    }

    /// <summary>
    /// The seed input of the innermost trace (created on first use) and the stream of its next draw (0, 1, ... in call
    /// order): what a random op inside a trace draws from.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not tracing.</exception>
    internal static (Node Seed, long Stream) NextDraw()
    {
        var d = t_draws ?? throw new InvalidOperationException("not tracing");
        d.Seed ??= IrBuilder.Input(SeedInputName, Runtime.DType.I64, Shape.Scalar);
        return (d.Seed, d.Streams++);
    }

    /// <summary>Traces a one-input, one-output function.</summary>
    public static Graph Trace(Func<Tensor, Tensor> fn, TraceInput input, string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(fn);
        return Trace(xs => [fn(xs[0])], [input], [outputName]);
    }

    /// <summary>Traces <paramref name="module"/>'s forward pass; its parameters become Constant nodes named by their state-dict names.</summary>
    public static Graph Trace(Module<Tensor, Tensor> module, TraceInput input, string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(module);
        module.AssignStateNames();
        return Trace(xs => [module.Forward(xs[0])], [input], [outputName]);
    }

    /// <summary>Traces a two-input module (for example input ids and a mask).</summary>
    public static Graph Trace(Module<Tensor, Tensor, Tensor> module, TraceInput input1, TraceInput input2, string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(module);
        module.AssignStateNames();
        return Trace(xs => [module.Forward(xs[0], xs[1])], [input1, input2], [outputName]);
    }

    /// <summary>
    /// Traces a function that uses <paramref name="module"/>'s parameters (naming them first), for models whose
    /// forward takes or returns several tensors.
    /// </summary>
    public static Graph Trace(Module module, Func<Tensor[], Tensor[]> fn, IReadOnlyList<TraceInput> inputs, IReadOnlyList<string>? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        module.AssignStateNames();
        return Trace(fn, inputs, outputNames);
    }
}
