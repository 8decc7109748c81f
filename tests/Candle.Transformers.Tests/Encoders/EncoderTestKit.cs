using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Tests.Encoders;

internal static class EncoderTestKit
{
    public static IBackend ReferenceBackendInstance => ReferenceBackend.Instance;

    public static IExecutable Compile(IBackend backend, Graph g) => backend.Compile(g, CompileOptions.Default);

    public static HostTensor[] Run(IBackend backend, Graph g, IReadOnlyDictionary<string, HostTensor> byName)
    {
        var inputs = g.Inputs.Select(i => byName[i.Attr<InputAttrs>().Name]).ToArray();
        return Compile(backend, g).Run(inputs);
    }

    public static HostTensor Output(Graph g, HostTensor[] outs, string name) => outs[g.OutputNames.IndexOf(name)];

    public static double MaxAbsDiff(HostTensor expected, HostTensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToFloat32();
        var a = actual.ToFloat32();
        double m = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double d = Math.Abs((double)e[i] - a[i]);
            if (double.IsNaN(d)) return double.PositiveInfinity;
            m = Math.Max(m, d);
        }

        return m;
    }

    public static SafeTensorsFile ReferenceFile(string model) => SafeTensorsFile.Open(Path.Combine(Candle.Tests.Fixtures.Model(model), "reference.safetensors"));
}
