using Candle.Runtime.Tensors;
using Candle.Tests;

namespace Candle.Onnx.Tests;

/// <summary>One case of ONNX's backend node-test format: model.onnx and test_data_set_*/input_i.pb, output_i.pb.</summary>
public sealed class NodeTestCase
{
    public NodeTestCase(string dir) => Dir = dir;

    public string Dir { get; }

    public string Name => Path.GetFileName(Dir);

    public string ModelPath => Path.Combine(Dir, "model.onnx");

    public static string Root => Path.Combine(Fixtures.Dir, "onnx-node");

    public static IEnumerable<NodeTestCase> All() =>
        Directory.GetDirectories(Root).Order(StringComparer.Ordinal).Select(d => new NodeTestCase(d));

    public IEnumerable<(HostTensor[] Inputs, HostTensor[] Outputs)> DataSets()
    {
        foreach (string set in Directory.GetDirectories(Dir, "test_data_set_*").Order(StringComparer.Ordinal))
        {
            yield return (Read(set, "input"), Read(set, "output"));
        }
    }

    private static HostTensor[] Read(string set, string kind)
    {
        var list = new List<HostTensor>();
        for (int i = 0; File.Exists(Path.Combine(set, $"{kind}_{i}.pb")); i++)
        {
            list.Add(OnnxTensors.ReadFile(Path.Combine(set, $"{kind}_{i}.pb")));
        }

        return [.. list];
    }

    public override string ToString() => Name;
}
