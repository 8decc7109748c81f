using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

/// <summary>softplus and mish in Candle.Torch: hand-computed values, β/threshold, and eager == traced.</summary>
public class SoftplusMishTests
{
    private static float[] Softplus(float[] x, double beta = 1, double threshold = 20) =>
        [.. x.Select(v => beta * v > threshold ? v : (float)(Math.Log(1 + Math.Exp(beta * v)) / beta))];

    [Fact]
    public void Softplus_matches_its_definition()
    {
        float[] a = [.. Check.Rand(41, 5, -30, 30), 25f, 20.5f, 0f, -40f];
        var x = Tensor.FromArray(a);
        Check.Close(Softplus(a), F.Softplus(x), 1e-6);
        Check.Close(Softplus(a, 2, 5), F.Softplus(x, 2, 5), 1e-6);
        Assert.Equal(25f, F.Softplus(x).ToFloatArray()[41]);
        Check.Close(Softplus(a, 0.5, 3), new Nn.Softplus(0.5, 3).Forward(x), 1e-6);
    }

    [Fact]
    public void Traced_softplus_equals_eager()
    {
        var x = Tensors.Randn([3, 7], seed: 11) * 12;
        foreach (var m in new Module<Tensor, Tensor>[] { new Nn.Softplus(), new Nn.Softplus(2, 5) })
        {
            var g = Tracer.Trace(t => m.Forward(t), new TraceInput("x", DType.F32, "batch", 7L));
            Assert.Equal(m.Forward(x).ToFloatArray(), ReferenceInterpreter.Run(g, [x.ToHostTensor()])[0].ToFloat32());
        }
    }

    [Fact]
    public void Mish_matches_its_definition_and_traces()
    {
        float[] a = [.. Check.Rand(41, 6, -30, 30), 25f, 0f, -40f];
        var x = Tensor.FromArray(a);
        float[] expected = [.. a.Select(v => (float)(v * Math.Tanh(Math.Log(1 + Math.Exp(v)))))];
        Check.Close(expected, F.Mish(x), 1e-6);
        Check.Close(expected, new Nn.Mish().Forward(x), 1e-6);
        var g = Tracer.Trace(t => new Nn.Mish().Forward(t), new TraceInput("x", DType.F32, "n"));
        Assert.Equal(F.Mish(x).ToFloatArray(), ReferenceInterpreter.Run(g, [x.ToHostTensor()])[0].ToFloat32());
    }
}
