using Candle.Compiler.Ir;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>A graph bound to the reference interpreter.</summary>
internal sealed class ReferenceExecutable : IExecutable
{
    private readonly Graph _graph;

    public ReferenceExecutable(Graph graph)
    {
        _graph = graph;
        InputNames = [.. graph.Inputs.Select(i => i.Attr<InputAttrs>().Name)];
        OutputNames = [.. graph.OutputNames];
    }

    public IReadOnlyList<string> InputNames { get; }

    public IReadOnlyList<string> OutputNames { get; }

    public HostTensor[] Run(IReadOnlyList<HostTensor> inputs) => ReferenceInterpreter.Run(_graph, inputs);

    /// <summary>Holds nothing to release.</summary>
    public void Dispose()
    {
    }
}
