using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch.Tests;

public class FunctionalTests
{
    [Fact]
    public void Linear_matches_loops()
    {
        float[] x = Check.Rand(15, 1), w = Check.Rand(20, 2), b = Check.Rand(4, 3);
        var y = F.Linear(Tensor.FromArray(x, 3, 5), Tensor.FromArray(w, 4, 5), Tensor.FromArray(b));
        Check.Shape(y, 3, 4);
        Check.Close(Oracle.Linear(x, 3, 5, w, 4, b), y);
        Check.Close(Oracle.Linear(x, 3, 5, w, 4, null), F.Linear(Tensor.FromArray(x, 3, 5), Tensor.FromArray(w, 4, 5)));
    }

    [Fact]
    public void Layer_rms_and_group_norm_by_hand()
    {
        float[] row = [1, 2, 3, 4];
        var x = Tensor.FromArray(row, 1, 4);
        double mean = 2.5, var = 1.25;
        float[] ln = [.. row.Select(v => (float)((v - mean) / Math.Sqrt(var + 1e-5)))];
        Check.Close(ln, F.LayerNorm(x, [4]), 1e-4);
        var w = Tensor.FromArray([1f, 2f, 3f, 4f]);
        var b = Tensor.FromArray([0f, 1f, 0f, 1f]);
        Check.Close([.. ln.Select((v, i) => (v * (i + 1)) + (i % 2))], F.LayerNorm(x, [4], w, b), 1e-4);
        double ms = (1 + 4 + 9 + 16) / 4.0;
        float[] rms = [.. row.Select((v, i) => (float)(v / Math.Sqrt(ms + 1e-6) * (i + 1)))];
        Check.Close(rms, F.RmsNorm(x, w, 1e-6), 1e-4);
        Check.Close(rms, F.RmsNorm(x, [4], w, 1e-6), 1e-4);
        // group norm: 2 groups of 2 channels of length 1: each group normalizes {1,2} and {3,4}
        var gx = Tensor.FromArray(row, 1, 4, 1);
        float z = (float)(0.5 / Math.Sqrt(0.25 + 1e-5));
        Check.Close([-z, z, -z, z], F.GroupNorm(gx, 2), 1e-4);
        var ex = Assert.Throws<IrException>(() => F.LayerNorm(x, [3]));
        Assert.Contains("layer_norm", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Embedding_picks_rows()
    {
        var table = Tensor.FromArray(Check.Seq(8), 4, 2);
        var ids = Tensor.FromArray([3L, 0L, 3L, 1L], 2, 2);
        var e = F.Embedding(ids, table);
        Check.Shape(e, 2, 2, 2);
        Check.Close([6, 7, 0, 1, 6, 7, 2, 3], e);
    }

    [Fact]
    public void Conv1d_by_hand()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 1, 1, 4);
        var w = Tensor.FromArray([1f, 0f, -1f], 1, 1, 3);
        Check.Close([-2, -2], F.Conv1d(x, w));
        Check.Close([-2, -2, -2, 3], F.Conv1d(x, w, padding: 1));
        Check.Close([-2, -2], F.Conv1d(x, w, padding: 1, stride: 2));
        Check.Close([8, 8], F.Conv1d(x, w, Tensor.FromArray([10f])));
        Check.Shape(F.Conv1d(Tensor.FromArray([1f, 2f, 3f, 4f], 1, 4), w), 1, 2); // unbatched
    }

    [Fact]
    public void Conv2d_matches_loops()
    {
        float[] x = Check.Rand(2 * 3 * 5 * 6, 11), k = Check.Rand(4 * 3 * 3 * 3, 12), b = Check.Rand(4, 13);
        var y = F.Conv2d(Tensor.FromArray(x, 2, 3, 5, 6), Tensor.FromArray(k, 4, 3, 3, 3), Tensor.FromArray(b), stride: 2, padding: 1);
        Check.Shape(y, 2, 4, 3, 3);
        Check.Close(Oracle.Conv2d(x, 2, 3, 5, 6, k, 4, 3, 3, b, 2, 1), y, 1e-4);
    }

    [Fact]
    public void ConvTranspose1d_matches_scatter_loops()
    {
        float[] x = Check.Rand(2 * 5, 21), k = Check.Rand(2 * 3 * 4, 22);
        var y = F.ConvTranspose1d(Tensor.FromArray(x, 1, 2, 5), Tensor.FromArray(k, 2, 3, 4), stride: 2, padding: 1, outputPadding: 1);
        Check.Shape(y, 1, 3, 11);
        Check.Close(Oracle.ConvTranspose1d(x, 2, 5, k, 3, 4, 2, 1, 1), y, 1e-4);
        // 2-d with a 1×k kernel equals the 1-d result
        var y2 = F.ConvTranspose2d(Tensor.FromArray(x, 1, 2, 1, 5), Tensor.FromArray(k, 2, 3, 1, 4), stride: 2, padding: 0);
        var y1 = F.ConvTranspose1d(Tensor.FromArray(x, 1, 2, 5), Tensor.FromArray(k, 2, 3, 4), stride: 2);
        Check.Close(y1.ToFloatArray(), y2.Squeeze(2), 1e-5);
    }

    [Fact]
    public void Pooling_interpolate_pad()
    {
        var x = Tensor.FromArray([1f, 5f, 2f, 4f, 3f, 0f], 1, 1, 6);
        Check.Close([5, 4, 3], F.MaxPool1d(x, 2));
        Check.Close([3, 3, 1.5f], F.AvgPool1d(x, 2));
        Check.Close([5, 4], F.MaxPool1d(x, 3, stride: 2));
        var m = Tensor.FromArray(Check.Seq(16), 1, 1, 4, 4);
        Check.Close([5, 7, 13, 15], F.MaxPool2d(m, 2));
        Check.Close([2.5f, 4.5f, 10.5f, 12.5f], F.AvgPool2d(m, 2));
        var s = Tensor.FromArray([1f, 2f, 3f, 4f], 1, 1, 2, 2);
        Check.Close([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], F.Interpolate(s, 2));
        Assert.Throws<NotSupportedException>(() => F.Interpolate(s, 2, "bilinear"));
        var p = F.Pad(Tensor.FromArray([1f, 2f], 1, 2), [1, 2], value: 9);
        Check.Close([9, 1, 2, 9, 9], p);
        Check.Shape(F.Pad(Tensor.FromArray([1f, 2f], 1, 2), [0, 0, 1, 0]), 2, 2);
        Assert.Same(x, F.Dropout(x, 0.1));
    }

    [Fact]
    public void Sdpa_matches_loops_with_causal_mask_and_gqa()
    {
        int b = 1, h = 4, hkv = 2, s = 5, d = 8;
        float[] q = Check.Rand(b * h * s * d, 31), k = Check.Rand(b * hkv * s * d, 32), v = Check.Rand(b * hkv * s * d, 33);
        var tq = Tensor.FromArray(q, b, h, s, d);
        var tk = Tensor.FromArray(k, b, hkv, s, d);
        var tv = Tensor.FromArray(v, b, hkv, s, d);
        var o = F.ScaledDotProductAttention(tq, tk, tv, isCausal: true, enableGqa: true);
        Check.Close(Oracle.Attention(q, k, v, b, h, hkv, s, s, d, causal: true), o, 1e-4);
        Assert.Throws<IrException>(() => F.ScaledDotProductAttention(tq, tk, tv));

        // bool mask (true keeps) equals causal
        var keep = Tensors.Ones(s, s).Tril().Bool();
        var k4 = tk.RepeatInterleave(2, 1);
        var v4 = tv.RepeatInterleave(2, 1);
        Check.Close(o.ToFloatArray(), F.ScaledDotProductAttention(tq, k4, v4, keep), 1e-5);

        // a float mask is added
        var additive = Tensors.Zeros(s, s).MaskedFill(keep.LogicalNot(), double.NegativeInfinity);
        Check.Close(o.ToFloatArray(), F.ScaledDotProductAttention(tq, k4, v4, additive), 1e-5);
    }

    [Fact]
    public void Rope_rotate_half_by_hand()
    {
        // x = [x0, x1, x2, x3]; halves pair (0,2) and (1,3)
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 1, 4);
        double a0 = 0.3, a1 = 1.1;
        var cos = Tensor.FromArray([(float)Math.Cos(a0), (float)Math.Cos(a1)], 1, 2);
        var sin = Tensor.FromArray([(float)Math.Sin(a0), (float)Math.Sin(a1)], 1, 2);
        float[] e =
        [
            (float)((1 * Math.Cos(a0)) - (3 * Math.Sin(a0))), (float)((2 * Math.Cos(a1)) - (4 * Math.Sin(a1))),
            (float)((3 * Math.Cos(a0)) + (1 * Math.Sin(a0))), (float)((4 * Math.Cos(a1)) + (2 * Math.Sin(a1))),
        ];
        Check.Close(e, F.Rope(x, cos, sin), 1e-5);
        float[] ei =
        [
            (float)((1 * Math.Cos(a0)) - (2 * Math.Sin(a0))), (float)((2 * Math.Cos(a0)) + (1 * Math.Sin(a0))),
            (float)((3 * Math.Cos(a1)) - (4 * Math.Sin(a1))), (float)((4 * Math.Cos(a1)) + (3 * Math.Sin(a1))),
        ];
        Check.Close(ei, F.Rope(x, cos, sin, interleaved: true), 1e-5);
    }

    [Fact]
    public void Machine_epsilon_defaults()
    {
        Assert.Equal(1.1920928955078125e-07, F.MachineEpsilon(DType.F32));
        Assert.Equal(0.0078125, F.MachineEpsilon(DType.BF16));
    }
}
