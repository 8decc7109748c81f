using Candle.Compiler.Autodiff;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Torch.Nn;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Training;

/// <summary>
/// The training graphs of a causal language model: its forward pass followed by transformers' shifted
/// cross-entropy (<c>labels</c> beside <c>input_ids</c>, −100 ignored), and the gradient of that loss with respect to
/// every parameter, named as in the checkpoint (a tied head's gradient is summed into the tensor it shares).
/// </summary>
public static class LanguageModelLoss
{
    /// <summary>The name of the labels input.</summary>
    public const string Labels = "labels";

    /// <summary>The name of the loss output.</summary>
    public const string Loss = "loss";

    /// <summary>Inputs <c>input_ids</c>, <c>labels</c> i64[batch, seq] → output <c>loss</c> (a scalar).</summary>
    /// <exception cref="NotSupportedException">The model is not a causal language model.</exception>
    public static Graph Trace(IPretrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is not ICausalLanguageModel) throw new NotSupportedException($"training: model_type '{model.ModelType}' is not a causal language model");
        var forward = model.TraceForward();
        var ids = forward.Inputs.Single();
        var labels = IrBuilder.Input(Labels, DType.I64, ids.Shape);
        var logits = forward.Outputs[forward.OutputNames.IndexOf(DecoderGraphNames.Logits)];
        var loss = Losses.CausalLm(IrBuilder.Cast(logits, DType.F32), labels);
        return new Graph([ids, labels], [loss], [Loss]);
    }

    /// <summary>The model's parameters as they appear in <paramref name="graph"/>: its named floating-point constants that are parameters of the model, by name.</summary>
    public static IReadOnlyList<(string Name, Node Node)> Parameters(IPretrainedModel model, Graph graph)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(graph);
        var names = model is Module m ? m.NamedParameters().Select(p => p.Name).ToHashSet(StringComparer.Ordinal) : null;
        var found = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes)
        {
            if (n.Op == Op.Constant && n.Attrs is ConstantAttrs { Name: { } name } && n.DType.IsFloat() && (names is null || names.Contains(name)))
            {
                if (!found.TryAdd(name, n) && !ReferenceEquals(found[name], n))
                {
                    throw new InvalidOperationException($"training: parameter '{name}' appears as two different constants");
                }
            }
        }

        return [.. found.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value))];
    }

    /// <summary>
    /// Inputs <c>input_ids</c>, <c>labels</c> → <c>loss</c> and <c>grad.{parameter}</c> for every parameter.
    /// </summary>
    public static Graph TraceGradients(IPretrainedModel model)
    {
        var loss = Trace(model);
        var parameters = Parameters(model, loss);
        return ReverseMode.Differentiate(loss, Loss, [.. parameters.Select(p => p.Node)], [.. parameters.Select(p => p.Name)]);
    }
}
