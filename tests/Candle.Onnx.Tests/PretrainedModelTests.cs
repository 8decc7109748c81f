using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Candle.Onnx.Tests;

/// <summary>
/// Real pretrained models imported from ONNX, compiled at O2 for the CPU and compared with ONNX Runtime on the same
/// file and inputs: every output within 1e-4.
/// </summary>
public sealed class PretrainedModelTests
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void MiniLm_matches_onnx_runtime_with_padding_in_the_batch()
    {
        const int batch = 2, seq = 12;
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        var types = new long[batch * seq];
        var rng = new Random(7);
        for (int b = 0; b < batch; b++)
        {
            int len = b == 0 ? seq : 7; // the second sentence is padded
            for (int i = 0; i < seq; i++)
            {
                ids[(b * seq) + i] = i >= len ? 0 : i == 0 ? 101 : i == len - 1 ? 102 : rng.Next(1000, 30000);
                mask[(b * seq) + i] = i < len ? 1 : 0;
            }
        }

        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromArray(ids, batch, seq),
            ["attention_mask"] = HostTensor.FromArray(mask, batch, seq),
            ["token_type_ids"] = HostTensor.FromArray(types, batch, seq),
        };
        Compare(PretrainedModels.MiniLmPath, inputs);
    }

    [Fact]
    public void ResNet18_matches_onnx_runtime()
    {
        var rng = new Random(3);
        var pixels = new float[3 * 224 * 224];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(rng.NextDouble() * 255);
        Compare(PretrainedModels.ResNet18Path, new Dictionary<string, HostTensor> { ["Input247"] = HostTensor.FromArray(pixels, 1, 3, 224, 224) });
    }

    private static void Compare(string path, Dictionary<string, HostTensor> inputs)
    {
        var ours = OnnxEvaluation.Run(path, inputs, BackendRegistry.Get("cpu"), new CompileOptions { OptLevel = 2 });
        using var session = new InferenceSession(path);
        var feeds = inputs.Select(kv => kv.Value.DType == Runtime.DType.I64
            ? NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<long>(kv.Value.ToInt64(), [.. kv.Value.Shape]))
            : NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<float>(kv.Value.ToFloat32(), [.. kv.Value.Shape]))).ToList();
        using var theirs = session.Run(feeds);
        Assert.Equal(theirs.Count, ours.Count);
        foreach (var (name, actual) in ours)
        {
            var expected = theirs.Single(r => r.Name == name).AsTensor<float>();
            Assert.Equal(expected.Dimensions.ToArray(), actual.Shape.ToArray());
            var e = expected.ToArray();
            var a = actual.ToFloat32();
            double worst = 0;
            for (int i = 0; i < e.Length; i++) worst = Math.Max(worst, Math.Abs(e[i] - a[i]));
            Assert.True(worst <= Tolerance, $"{path} output '{name}': largest difference {worst:G3} (at most {Tolerance})");
        }
    }
}
