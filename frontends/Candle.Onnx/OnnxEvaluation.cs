using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>
/// One forward pass of an ONNX file on named inputs: the inputs are checked against the graph's declarations, small
/// int64 inputs (shapes, axes) are fixed at import so that the shape computations reading them fold, the graph is
/// compiled for a backend and run, and the outputs come back under the graph's output names with their dtypes.
/// What <c>candle eval model.onnx</c> does.
/// </summary>
public static class OnnxEvaluation
{
    /// <summary>Imports, compiles and runs <paramref name="modelPath"/> once.</summary>
    /// <param name="modelPath">The .onnx file.</param>
    /// <param name="inputs">The graph's inputs by name (inputs that an initializer backs may be left out).</param>
    /// <param name="backend">Where to run.</param>
    /// <param name="options">Compile options; null for the defaults.</param>
    /// <param name="inputsSource">Where the inputs came from, for messages.</param>
    /// <returns>The outputs, in the graph's order, under its output names.</returns>
    /// <exception cref="ArgumentException">An input is missing or has the wrong dtype or shape (the message names it).</exception>
    /// <exception cref="OnnxFormatException">The file is malformed.</exception>
    /// <exception cref="OnnxImportException">An op, attribute or type cannot be mapped (the message names the node and op).</exception>
    public static IReadOnlyList<KeyValuePair<string, HostTensor>> Run(
        string modelPath,
        IReadOnlyDictionary<string, HostTensor> inputs,
        IBackend backend,
        CompileOptions? options = null,
        string inputsSource = "inputs")
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(backend);
        var proto = OnnxProtoFiles.Parse(modelPath, Proto.ModelProto.Parser);
        var info = OnnxModelInfo.From(modelPath, proto);
        foreach (var input in info.Inputs)
        {
            if (!inputs.ContainsKey(input.Name))
            {
                throw new ArgumentException($"{inputsSource}: missing input '{input.Name}' ({input}); given {(inputs.Count == 0 ? "no tensors" : string.Join(", ", inputs.Keys))}");
            }
        }

        var fixedInputs = FixedInputs(proto, inputs);
        var graph = OnnxImporter.Import(modelPath, proto, new OnnxImportOptions { ConstantInputs = fixedInputs });

        var args = new List<HostTensor>();
        foreach (var input in graph.Inputs)
        {
            string name = input.Attr<InputAttrs>().Name;
            var t = inputs[name];
            if (t.DType != input.DType) throw new ArgumentException($"{inputsSource}: input '{name}' is {t.DType.TorchName()}, but the model declares {input.TypeString}");
            if (t.Rank != input.Shape.Rank || input.Shape.Where((d, i) => d.IsConstant && d.Value != t.Shape[i]).Any())
            {
                throw new ArgumentException($"{inputsSource}: input '{name}' has shape [{string.Join(", ", t.Shape)}], but the model declares {input.TypeString}");
            }

            args.Add(t);
        }

        using var exe = backend.Compile(graph, options ?? CompileOptions.Default);
        var results = exe.Run(args);
        return [.. graph.OutputNames.Zip(results, (n, r) => new KeyValuePair<string, HostTensor>(n, r))];
    }

    /// <summary>
    /// The given inputs fixed at import: shape-like ones (<see cref="OnnxImportOptions.IsShapeLike"/>) and small
    /// rank-1 tensors that a Resize reads as its roi or scales (an Upsample as its scales).
    /// </summary>
    internal static Dictionary<string, HostTensor> FixedInputs(Proto.ModelProto proto, IReadOnlyDictionary<string, HostTensor> inputs)
    {
        var parameters = proto.Graph.Node.Where(node => node.OpType is "Resize" or "Upsample" && string.IsNullOrEmpty(node.Domain))
            .SelectMany(node => node.Input.Skip(1).Take(node.OpType == "Resize" ? 2 : 1)).ToHashSet(StringComparer.Ordinal);
        return proto.Graph.Input
            .Where(d => inputs.TryGetValue(d.Name, out var t) && (OnnxImportOptions.IsShapeLike(t) || parameters.Contains(d.Name) && t.Rank == 1 && t.ElementCount <= 64))
            .ToDictionary(d => d.Name, d => inputs[d.Name], StringComparer.Ordinal);
    }
}
