using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Tests.BackendMatrix;

/// <summary>One graph of the backend matrix: inputs and the tolerance against the reference interpreter.</summary>
public sealed record BackendCase(string Name, Graph Graph, HostTensor[] Inputs, double Atol, double Rtol)
{
    public override string ToString() => Name;
}

/// <summary>
/// The backend test matrix: every kernel kind (generated elementwise chains over contiguous, broadcast and strided
/// inputs in f32/f16/bf16, softmax, norms, reductions, GEMM and batched products, attention for prefill and decode with
/// GQA and masks, rope, embedding gathers, copies, fills and ranges) as small graphs, each compared with the reference
/// interpreter. The same cases run for every backend through <see cref="BackendMatrixTests"/>: the CPU, Metal through the
/// shim, ILGPU's CPU accelerator in CI, and CUDA and OpenCL on the GPU machine.
/// </summary>
public static class BackendCases
{
    private static readonly DType[] Floats = [DType.F32, DType.F16, DType.BF16];

    public static (double Atol, double Rtol) Tol(DType dt, double n = 16) => dt switch
    {
        DType.F16 => (4e-3 * Math.Sqrt(n), 4e-3),
        DType.BF16 => (3e-2 * Math.Sqrt(n), 3e-2),
        _ => (2e-5 * Math.Sqrt(n), 2e-5),
    };

    public static HostTensor Random(Random rng, DType dt, int[] shape, double lo = -3, double hi = 3)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var t = HostTensor.Zeros(dt, shape);
        for (long i = 0; i < n; i++)
        {
            double v = dt switch
            {
                DType.Bool => rng.Next(2),
                DType.I64 or DType.I32 => rng.Next(0, 7),
                _ => lo + ((hi - lo) * rng.NextDouble()),
            };
            t.SetDouble(i, v);
        }

        return t;
    }

    private static BackendCase Case(string name, Graph g, Random rng, double atol, double rtol, double lo = -3, double hi = 3) =>
        new(name, g, [.. g.Inputs.Select(i => Random(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], lo, hi))], atol, rtol);

    private static Candle.Runtime.Kernels.Quant.QuantizedTensor Quantized(Random rng, Candle.Runtime.Kernels.Quant.GgmlType type, int rows, int cols, string name)
    {
        var x = new float[rows * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 2) - 1);
        var bytes = new byte[Candle.Runtime.Kernels.Quant.GgmlTypeTraits.ByteCount(type, x.Length)];
        Candle.Runtime.Kernels.Quant.GgmlTypeTraits.Quantize(type, x, bytes);
        return new Candle.Runtime.Kernels.Quant.QuantizedTensor(type, rows, cols, bytes, name);
    }

    private static Node W(Random rng, DType dt, string name, params int[] shape) => Constant(Random(rng, dt, shape, -0.5, 0.5), name);

    public static IEnumerable<BackendCase> All()
    {
        var rng = new Random(11);
        foreach (var dt in Floats)
        {
            string s = dt.TorchName();
            var (atol, rtol) = Tol(dt);

            // The benchmark's fused chain gelu(x * w + b) * sigmoid(x), with broadcast w and b.
            var x = Input("x", dt, Shape.Of(7, 33));
            var w = Input("w", dt, Shape.Of(33));
            var b = Input("b", dt, Shape.Of(33));
            yield return Case($"fused_gelu_chain_{s}", new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]), rng, atol, rtol);

            // Strided (transposed) and broadcast operands, many ops in one chain.
            var p = Input("p", dt, Shape.Of(5, 6));
            var q = Input("q", dt, Shape.Of(6, 5));
            var qt = Transpose(q, 0, 1);
            var chain = Binary(Op.Add, Unary(Op.Tanh, p), Unary(Op.Exp, Binary(Op.Mul, qt, 0.5)));
            chain = Binary(Op.Maximum, chain, Unary(Op.Silu, qt));
            chain = Where(Binary(Op.Gt, p, qt), chain, Unary(Op.Sqrt, Unary(Op.Abs, p)));
            yield return Case($"strided_chain_{s}", new Graph([p, q], [chain, Unary(Op.Log, Binary(Op.Add, Unary(Op.Abs, qt), 1.0))]), rng, atol, rtol);

            // Rows: softmax along the last and a middle axis, log_softmax, norms, reductions.
            var r = Input("r", dt, Shape.Of(4, 3, 130));
            yield return Case($"softmax_{s}", new Graph([r], [Softmax(r, 2), LogSoftmax(r, 2), Softmax(r, 1)]), rng, Tol(dt, 130).Atol, rtol);
            var nw = W(rng, dt, "nw", 130);
            var nb = W(rng, dt, "nb", 130);
            yield return Case($"norms_{s}", new Graph([r], [RmsNorm(r, nw, 1e-6), LayerNorm(r, nw, nb, 1e-5), RmsNorm(r, null, 1e-5)]), rng, Tol(dt, 130).Atol, rtol);
            if (dt == DType.F32)
            {
                // Rows longer than a GPU group's shared memory holds (13000 floats = 52 KB): the multi-pass row kernels
                // read global memory in every pass instead of keeping the row.
                var lr = Input("lr", dt, Shape.Of(3, 13000));
                var lw = W(rng, dt, "lw", 13000);
                var lb = W(rng, dt, "lb", 13000);
                yield return Case($"long_rows_{s}", new Graph([lr], [Softmax(lr, 1), LogSoftmax(lr, 1), RmsNorm(lr, lw, 1e-6), LayerNorm(lr, lw, lb, 1e-5)]), rng, Tol(dt, 13000).Atol, rtol);
            }

            yield return Case($"reduce_{s}", new Graph([r], [Reduce(Op.Sum, r, [2]), Reduce(Op.Mean, r, [2], true), Reduce(Op.Max, r, [2]), Reduce(Op.Min, r, [1])]), rng, Tol(dt, 130).Atol * 4, rtol);

            // Reductions with elementwise producers and consumers (one generated kernel where the backend fuses them):
            // rms-style rsqrt(mean(x²) + eps), softmax's sum(exp(x − max)) with the max broadcast back, a middle, a
            // leading and two separated axes, a broadcast weight in the producer and a broadcast bias in the
            // consumer, a transposed (strided) input.
            var rw = Input("rw", dt, Shape.Of(130));
            var rb = Input("rb", dt, Shape.Of(3));
            var m = Reduce(Op.Max, r, [2], true);
            yield return Case(
                $"fused_reduce_{s}",
                new Graph(
                    [r, rw, rb],
                    [
                        Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, r, r), [2], true), 1e-5)),
                        Unary(Op.Log, Reduce(Op.Sum, Unary(Op.Exp, Binary(Op.Sub, r, m)), [2])),
                        Binary(Op.Mul, Reduce(Op.Sum, Binary(Op.Mul, r, 0.5), [1]), 2.0),
                        Unary(Op.Tanh, Reduce(Op.Max, Unary(Op.Abs, r), [0], true)),
                        Reduce(Op.Mean, Unary(Op.Sigmoid, r), [0, 2]),
                        Reduce(Op.Sum, Binary(Op.Add, Binary(Op.Mul, r, 0.05), 1.0), [1]),
                        Binary(Op.Add, Reduce(Op.Sum, Binary(Op.Mul, r, rw), [2]), rb),
                        Unary(Op.Neg, Reduce(Op.Min, Binary(Op.Sub, Transpose(r, 1, 2), 1.0), [2])),
                    ]),
                rng,
                Tol(dt, 130).Atol * 4,
                rtol);

            // Batched products (strided and broadcast batch) and rope.
            var ba = Input("ba", dt, Shape.Of(2, 3, 9, 17));
            var bb = Input("bb", dt, Shape.Of(2, 3, 17, 11));
            var bc = Input("bc", dt, Shape.Of(17, 11));
            yield return Case($"batched_matmul_{s}", new Graph([ba, bb, bc], [MatMul(ba, bb), MatMul(ba, bc), MatMul(Transpose(bb, 2, 3), Transpose(ba, 2, 3))]), rng, Tol(dt, 17).Atol, rtol);
            var rx = Input("rx", dt, Shape.Of(1, 2, 5, 8));
            var rc = Input("rc", dt, Shape.Of(5, 4));
            var rs = Input("rs", dt, Shape.Of(5, 4));
            yield return Case($"rope_{s}", new Graph([rx, rc, rs], [Rope(rx, rc, rs, false), Rope(rx, rc, rs, true)]), rng, atol, rtol);

            // A residual stream: an add read by an rms_norm and by a later add (one call on backends that fuse them).
            var res = Input("res", dt, Shape.Of(3, 40));
            var upd = Input("upd", dt, Shape.Of(3, 40));
            var stream = Binary(Op.Add, res, upd);
            var normed = RmsNorm(stream, W(rng, dt, "rn", 40), 1e-5);
            yield return Case($"residual_rms_norm_{s}", new Graph([res, upd], [normed, Binary(Op.Add, stream, Binary(Op.Mul, normed, 0.5))]), rng, atol, rtol);

            // Rope over views as a decoder feeds it: heads of a wider projection (sliced, then permuted to
            // [batch, heads, seq, dim]) with per-batch tables broadcast over the heads.
            var wide = Input("wide", dt, Shape.Of(2, 5, 30));
            var pc = Input("pc", dt, Shape.Of(2, 1, 5, 4));
            var ps = Input("ps", dt, Shape.Of(2, 1, 5, 4));
            var heads = Permute(Reshape(Slice(wide, 2, 6, 30), 2, 5, 3, 8), 0, 2, 1, 3);
            yield return Case($"rope_strided_{s}", new Graph([wide, pc, ps], [Rope(heads, pc, ps, false), Rope(heads, pc, ps, true)]), rng, atol, rtol);

            // Attention: prefill with GQA (causal, bool mask, float mask) and decode over a cache.
            var aq = Input("q", dt, Shape.Of(1, 4, 9, 16));
            var ak = Input("k", dt, Shape.Of(1, 2, 9, 16));
            var av = Input("v", dt, Shape.Of(1, 2, 9, 16));
            var bm = Input("m", DType.Bool, Shape.Of(1, 1, 9, 9));
            yield return Case($"attention_prefill_{s}", new Graph([aq, ak, av, bm], [Attention(aq, ak, av, causal: true), Attention(aq, ak, av, bm)]), rng, Tol(dt, 16).Atol, rtol);
            var dq = Input("q", dt, Shape.Of(2, 4, 1, 64));
            var dk = Input("k", dt, Shape.Of(2, 1, 70, 64));
            var dv = Input("v", dt, Shape.Of(2, 1, 70, 64));
            yield return Case($"attention_decode_{s}", new Graph([dq, dk, dv], [Attention(dq, dk, dv, causal: true)]), rng, Tol(dt, 64).Atol, rtol, -1, 1);

            // Decode over a cache laid out [positions, batch, kv_heads, dim], read through a permuted view, with a
            // boolean mask broadcast over heads and query rows.
            var ck = Input("ck", dt, Shape.Of(11, 2, 2, 16));
            var cv = Input("cv", dt, Shape.Of(11, 2, 2, 16));
            var cq = Input("cq", dt, Shape.Of(2, 4, 1, 16));
            var cm = Input("cm", DType.Bool, Shape.Of(2, 1, 1, 11));
            yield return Case(
                $"attention_cache_view_{s}",
                new Graph([cq, ck, cv, cm], [Attention(cq, Permute(ck, 1, 2, 0, 3), Permute(cv, 1, 2, 0, 3), cm), Attention(cq, Permute(ck, 1, 2, 0, 3), Permute(cv, 1, 2, 0, 3), causal: true)]),
                rng,
                Tol(dt, 16).Atol,
                rtol,
                -1,
                1);

            // Embedding gather, concat/slice copies, fill, arange.
            var table = W(rng, dt, "embed", 50, 16);
            var ids = Input("ids", DType.I64, Shape.Of(2, 5));
            var e = IndexSelect(table, 0, Reshape(ids, -1));
            yield return Case($"embedding_concat_{s}", new Graph([ids, x], [Concat([e, Slice(e, 1, 3, 11)], 1), Concat([x, Full(1.5, dt, Shape.Of(7, 2))], 1), Cast(Arange(9, dt), DType.F32)]), rng, 0, 0);
            // Position ids cast to floats (rope angles), from a strided int64 view.
            var pid = Input("pid", DType.I64, Shape.Of(3, 4));
            yield return Case($"cast_i64_{s}", new Graph([pid], [Cast(Transpose(pid, 0, 1), dt), Binary(Op.Mul, Cast(pid, dt), 0.5)]), rng, 0, 0);
        }

        // Reductions over odd and degenerate sizes: 1, 3, 17 and 1000 elements along the reduced axis, inner, outer
        // and middle axes, keepdim, a size-1 kept axis.
        foreach (int n in new[] { 1, 3, 17, 1000 })
        {
            var t = Input("t", DType.F32, Shape.Of(3, n, 5));
            var u = Input("u", DType.F32, Shape.Of(1, n));
            yield return Case(
                $"reduce_sizes_{n}",
                new Graph(
                    [t, u],
                    [
                        Reduce(Op.Sum, Binary(Op.Mul, t, t), [1]),
                        Unary(Op.Sqrt, Reduce(Op.Mean, Unary(Op.Abs, t), [1], true)),
                        Reduce(Op.Max, Unary(Op.Exp, Binary(Op.Mul, t, 0.3)), [2]),
                        Reduce(Op.Min, t, [0, 1]),
                        Binary(Op.Mul, Reduce(Op.Sum, u, [1], true), 3.0),
                        Reduce(Op.Mean, Unary(Op.Tanh, u), [0]),
                        Reduce(Op.Sum, Transpose(t, 0, 2), [2]),
                    ]),
                rng,
                Tol(DType.F32, n).Atol * 4,
                1e-5);
        }

        // Single ops over integers and booleans (label masks, index arithmetic), contiguous and strided.
        var li = Input("ids", DType.I64, Shape.Of(4, 6));
        var ll = Input("labels", DType.I64, Shape.Of(4, 6));
        var lx = Input("x", DType.F32, Shape.Of(4, 6));
        var ne = Binary(Op.Ne, li, ll);
        yield return Case(
            "mixed_integer",
            new Graph(
                [li, ll, lx],
                [
                    ne,
                    Where(ne, li, ll),
                    Binary(Op.Lt, Transpose(li, 0, 1), Transpose(ll, 0, 1)),
                    Binary(Op.FloorDiv, Binary(Op.Sub, li, 3), Binary(Op.Add, ll, 1)),
                    Binary(Op.Remainder, Binary(Op.Sub, li, 3), Binary(Op.Add, ll, 1)),
                    Binary(Op.Mul, Cast(Binary(Op.Ge, li, ll), DType.F32), lx),
                    Cast(Binary(Op.Maximum, li, ll), DType.I32),
                ]),
            rng,
            0,
            0);

        // Products and lookups of quantized constants (GGUF weights): native kernels on the CPU, the exact float32
        // dequantization on backends without them.
        var qx = Input("x", DType.F32, Shape.Of(3, 64));
        var qids = Input("ids", DType.I64, Shape.Of(2, 3));
        var qw = QuantConstant(Quantized(rng, Candle.Runtime.Kernels.Quant.GgmlType.Q8_0, 24, 64, "wq8"));
        var qtable = QuantConstant(Quantized(rng, Candle.Runtime.Kernels.Quant.GgmlType.Q4_0, 7, 64, "table"));
        yield return Case("quant_matmul_embedding", new Graph([qx, qids], [QuantMatMul(qx, qw), QuantEmbedding(qtable, qids)]), rng, 2e-2, 2e-2, -1, 1);

        // f32 GEMMs with a weight (and its transposed form, as nn.Linear) and fused epilogues.
        var a = Input("a", DType.F32, Shape.Of(13, 37));
        var wt = W(rng, DType.F32, "wt", 19, 37);
        var wb = W(rng, DType.F32, "wb", 19);
        var wk = W(rng, DType.F32, "wk", 37, 19);
        yield return Case("gemm_f32", new Graph([a], [Unary(Op.Relu, Linear(a, wt, wb)), MatMul(a, wk), MatMul(Transpose(a, 0, 1), a)]), rng, 1e-4, 1e-4);

        // A Llama-style block: rms_norm, projections, rope, GQA attention, SwiGLU, residuals.
        yield return Case("llama_block_f32", LlamaBlock(rng), rng, 2e-4, 2e-4);
    }

    private static Graph LlamaBlock(Random rng)
    {
        const int Seq = 6, D = 32, H = 4, Hk = 2, Hd = 8, F = 48;
        var x = Input("x", DType.F32, Shape.Of(1, Seq, D));
        var cos = Input("cos", DType.F32, Shape.Of(Seq, Hd / 2));
        var sin = Input("sin", DType.F32, Shape.Of(Seq, Hd / 2));
        var h = RmsNorm(x, W(rng, DType.F32, "n1", D), 1e-6);
        Node Heads(Node t, int n) => Transpose(Reshape(t, 1, Seq, n, Hd), 1, 2);
        var q = Rope(Heads(Linear(h, W(rng, DType.F32, "wq", H * Hd, D)), H), cos, sin, false);
        var k = Rope(Heads(Linear(h, W(rng, DType.F32, "wk", Hk * Hd, D)), Hk), cos, sin, false);
        var v = Heads(Linear(h, W(rng, DType.F32, "wv", Hk * Hd, D)), Hk);
        var att = Reshape(Transpose(Attention(q, k, v, causal: true), 1, 2), 1, Seq, H * Hd);
        var x2 = Binary(Op.Add, x, Linear(att, W(rng, DType.F32, "wo", D, H * Hd)));
        var h2 = RmsNorm(x2, W(rng, DType.F32, "n2", D), 1e-6);
        var act = Binary(Op.Mul, Unary(Op.Silu, Linear(h2, W(rng, DType.F32, "w1", F, D))), Linear(h2, W(rng, DType.F32, "w3", F, D)));
        return new Graph([x, cos, sin], [Binary(Op.Add, x2, Linear(act, W(rng, DType.F32, "w2", D, F)))], ["y"]);
    }

    /// <summary>
    /// Convolutions (a set of its own: not every backend of <see cref="All"/> has them): 1-D with bias, stride and
    /// padding (Whisper's stem), 2-D grouped, strided and dilated, and transposed 1-D and 2-D with output padding, in f32
    /// and f16, each followed by an elementwise consumer.
    /// </summary>
    public static IEnumerable<BackendCase> Convolutions()
    {
        var rng = new Random(17);
        foreach (var dt in new[] { DType.F32, DType.F16 })
        {
            string s = dt.TorchName();
            var (atol, rtol) = Tol(dt, 64);
            var x1 = Input("x", dt, Shape.Of(2, 6, 19));
            var w1 = Input("w", dt, Shape.Of(8, 6, 3));
            var b1 = Input("b", dt, Shape.Of(8));
            yield return Case(
                $"conv1d_{s}",
                new Graph([x1, w1, b1], [Unary(Op.Gelu, Conv(x1, w1, b1, [1], [1], [1], 1)), Conv(x1, w1, b1, [2], [1], [1], 1), Conv(x1, w1, null, [1], [0], [2], 1)]),
                rng,
                atol,
                rtol,
                -1,
                1);
            var x2 = Input("x", dt, Shape.Of(2, 4, 9, 11));
            var w2 = Input("w", dt, Shape.Of(6, 2, 3, 2));
            var b2 = Input("b", dt, Shape.Of(6));
            yield return Case(
                $"conv2d_{s}",
                new Graph([x2, w2, b2], [Conv(x2, w2, b2, [2, 1], [1, 1], [1, 2], 2), Binary(Op.Mul, Conv(x2, w2, null, [1, 1], [0, 1], [1, 1], 2), 0.5)]),
                rng,
                atol,
                rtol,
                -1,
                1);
            var wt1 = Input("wt", dt, Shape.Of(6, 4, 3));
            var wt2 = Input("wt2", dt, Shape.Of(4, 3, 3, 2));
            var x3 = Input("x3", dt, Shape.Of(2, 4, 5, 6));
            yield return Case(
                $"conv_transpose_{s}",
                new Graph([x1, wt1, x3, wt2], [ConvTranspose(x1, wt1, null, [2], [1], [1], [1], 1), ConvTranspose(x3, wt2, null, [2, 1], [1, 0], [1, 0], [1, 2], 2)]),
                rng,
                atol,
                rtol,
                -1,
                1);
        }
    }

    /// <summary>Runs a case on <paramref name="backend"/> at O0 and O2 and returns null when it matches the reference, else what differs.</summary>
    public static string? Check(BackendCase c, IBackend backend, string? device = null)
    {
        var expected = ReferenceInterpreter.Run(c.Graph, c.Inputs);
        foreach (int level in new[] { 0, 2 })
        {
            using var exe = CandleCompiler.CompileExecutable(c.Graph, new CompileOptions { Backend = backend, OptLevel = level, Device = device });
            var actual = exe.Run(c.Inputs);
            var err = Compare(expected, actual, c.Atol, c.Rtol);
            if (err is not null) return $"O{level}: {err}";
        }

        return null;
    }

    public static string? Compare(HostTensor[] expected, HostTensor[] actual, double atol, double rtol)
    {
        if (expected.Length != actual.Length) return $"{actual.Length} outputs, expected {expected.Length}";
        for (int o = 0; o < expected.Length; o++)
        {
            var (e, a) = (expected[o], actual[o]);
            if (!e.ShapeArray().SequenceEqual(a.ShapeArray())) return $"output {o}: shape [{string.Join(",", a.ShapeArray())}], expected [{string.Join(",", e.ShapeArray())}]";
            long n = e.ShapeArray().Aggregate(1L, (x, y) => x * y);
            for (long i = 0; i < n; i++)
            {
                double ev = e.GetDouble(i), av = a.GetDouble(i);
                if (double.IsNaN(ev) && double.IsNaN(av)) continue;
                if (!(Math.Abs(ev - av) <= atol + (rtol * Math.Abs(ev)))) return $"output {o} element {i}: {av}, expected {ev}";
            }
        }

        return null;
    }
}
