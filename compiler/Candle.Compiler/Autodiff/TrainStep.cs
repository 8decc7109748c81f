using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// One training step as one graph: the loss, its gradients with respect to the parameters (optionally clipped by
/// their global norm, as torch.nn.utils.clip_grad_norm_), and the optimizer's update. Parameters and optimizer state
/// are donated inputs (<c>{name}</c>, <c>{state}.{name}</c>) whose new values are outputs (<c>param.{name}</c>,
/// <c>state.{state}.{name}</c>); the step's scalars are inputs <c>hp.{scalar}</c>; the data inputs keep their names.
/// </summary>
public sealed class TrainStep
{
    private TrainStep(Graph graph, IReadOnlyList<string> parameters, Optimizer optimizer)
    {
        Graph = graph;
        ParameterNames = parameters;
        Optimizer = optimizer;
    }

    /// <summary>The step's graph; output 0 is the loss before the update.</summary>
    public Graph Graph { get; }

    /// <summary>The parameters, in input order.</summary>
    public IReadOnlyList<string> ParameterNames { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The input holding a step scalar.</summary>
    public static string ScalarInput(string scalar) => "hp." + scalar;

    /// <summary>The input holding a state tensor of a parameter.</summary>
    public static string StateInput(string state, string parameter) => state + "." + parameter;

    /// <summary>
    /// Builds the step of <paramref name="lossGraph"/>'s scalar output <paramref name="lossOutput"/> over
    /// <paramref name="parameters"/> (nodes of the graph, usually named constants, each replaced by an input of its name).
    /// </summary>
    /// <exception cref="ArgumentException">The loss is missing or not a scalar, a parameter is not floating-point, or names repeat.</exception>
    public static TrainStep Build(Graph lossGraph, string lossOutput, IReadOnlyList<(string Name, Node Node)> parameters, Optimizer optimizer, double? maxGradNorm = null)
    {
        ArgumentNullException.ThrowIfNull(lossGraph);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizer);
        int at = lossGraph.OutputNames.IndexOf(lossOutput);
        if (at < 0) throw new ArgumentException($"train step: the graph has no output '{lossOutput}'", nameof(lossOutput));
        if (lossGraph.Outputs[at].Shape.Rank != 0) throw new ArgumentException($"train step: output '{lossOutput}' is {lossGraph.Outputs[at].TypeString}, not a scalar", nameof(lossOutput));
        if (parameters.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count() != parameters.Count) throw new ArgumentException("train step: parameter names repeat", nameof(parameters));

        var replace = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        foreach (var (name, node) in parameters)
        {
            if (!node.DType.IsFloat()) throw new ArgumentException($"train step: parameter '{name}' is {node.TypeString}, not floating-point", nameof(parameters));
            replace[node] = DonatedInput(name, node.DType, node.Shape);
        }

        var rewritten = new Graph(lossGraph.Inputs, [lossGraph.Outputs[at]]).Rewrite(n => replace.GetValueOrDefault(n));
        var loss = rewritten.Outputs[0];
        var paramInputs = parameters.Select(p => replace[p.Node]).ToArray();
        var grads = ReverseMode.Gradients(loss, paramInputs).ToArray();
        var (scalars, stateInputs, outputs, names) = Update([.. parameters.Select(p => p.Name)], paramInputs, grads, optimizer, maxGradNorm);
        var graph = new Graph([.. lossGraph.Inputs, .. scalars, .. paramInputs, .. stateInputs], [loss, .. outputs], [lossOutput, .. names]);
        Verifier.Verify(graph);
        return new TrainStep(graph, [.. parameters.Select(p => p.Name)], optimizer);
    }

    /// <summary>The input holding a parameter's gradient in an <see cref="BuildApply"/> graph.</summary>
    public static string GradientInput(string parameter) => "grad." + parameter;

    /// <summary>
    /// The optimizer update alone, for gradients computed elsewhere (accumulated over micro-batches): inputs the
    /// gradients <c>grad.{name}</c>, the scalars, the parameters and the state as <see cref="Build"/>; outputs
    /// <c>param.{name}</c> and <c>state.{state}.{name}</c> (no loss).
    /// </summary>
    public static TrainStep BuildApply(IReadOnlyList<(string Name, DType DType, Shape Shape)> parameters, Optimizer optimizer, double? maxGradNorm = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (parameters.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count() != parameters.Count) throw new ArgumentException("train step: parameter names repeat", nameof(parameters));
        var paramInputs = parameters.Select(p => DonatedInput(p.Name, p.DType, p.Shape)).ToArray();
        var grads = parameters.Select(p => Input(GradientInput(p.Name), p.DType, p.Shape)).ToArray();
        var (scalars, stateInputs, outputs, names) = Update([.. parameters.Select(p => p.Name)], paramInputs, grads, optimizer, maxGradNorm);
        var graph = new Graph([.. grads, .. scalars, .. paramInputs, .. stateInputs], outputs, names);
        Verifier.Verify(graph);
        return new TrainStep(graph, [.. parameters.Select(p => p.Name)], optimizer);
    }

    private static (Node[] Scalars, List<Node> StateInputs, List<Node> Outputs, List<string> Names) Update(
        IReadOnlyList<string> parameterNames, Node[] paramInputs, Node[] grads, Optimizer optimizer, double? maxGradNorm)
    {
        if (maxGradNorm is double max)
        {
            if (!(max > 0)) throw new ArgumentOutOfRangeException(nameof(maxGradNorm), max, "the gradient norm bound must be > 0");
            Node? sq = null;
            foreach (var g in grads)
            {
                var s = Reduce(Op.Sum, Cast(Binary(Op.Mul, g, g), DType.F32));
                sq = sq is null ? s : Binary(Op.Add, sq, s);
            }

            var norm = Unary(Op.Sqrt, sq!);
            var coef = Binary(Op.Minimum, Binary(Op.Div, max, Binary(Op.Add, norm, 1e-6)), Scalar(1, DType.F32));
            grads = [.. grads.Select(g => Binary(Op.Mul, g, Cast(coef, g.DType)))];
        }

        var scalars = optimizer.ScalarNames.Select(s => Input(ScalarInput(s), DType.F32, Shape.Scalar)).ToArray();
        var stateInputs = new List<Node>();
        var outputs = new List<Node>();
        var names = new List<string>();
        var stateOutputs = new List<(Node, string)>();
        for (int i = 0; i < paramInputs.Length; i++)
        {
            var p = paramInputs[i];
            var state = optimizer.StateNames.Select(s => DonatedInput(StateInput(s, parameterNames[i]), p.DType, p.Shape)).ToArray();
            stateInputs.AddRange(state);
            var (next, nextState) = optimizer.Update(p, grads[i], state, [.. scalars.Select(s => Cast(s, p.DType))]);
            outputs.Add(next);
            names.Add("param." + parameterNames[i]);
            for (int k = 0; k < nextState.Length; k++) stateOutputs.Add((nextState[k], "state." + StateInput(optimizer.StateNames[k], parameterNames[i])));
        }

        outputs.AddRange(stateOutputs.Select(s => s.Item1));
        names.AddRange(stateOutputs.Select(s => s.Item2));
        return (scalars, stateInputs, outputs, names);
    }
}
