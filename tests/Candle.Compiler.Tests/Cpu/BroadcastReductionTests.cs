using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Compiler.Backends.Reference;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Reductions broadcast back over their rows (<see cref="BroadcastReductionSpec"/>): rms norm, softmax, layer norm and
/// log-softmax written from primitives are one generated kernel per row, match the reference interpreter over odd row
/// lengths, broadcast weights, strided and offset inputs, every vector width and thread count, and rebuild from keys.
/// </summary>
public sealed class BroadcastReductionTests
{
    /// <summary>The primitive forms, as models written without library norms trace them (x: [..., L], reduced over the last axis).</summary>
    internal static class Patterns
    {
        public static Node RmsNorm(Node x, Node w, double eps = 1e-6)
        {
            int last = x.Shape.Rank - 1;
            var r = Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, x, x), [last], keepDim: true), eps));
            return Binary(Op.Mul, Binary(Op.Mul, x, r), w);
        }

        public static Node Softmax(Node x)
        {
            int last = x.Shape.Rank - 1;
            var e = Unary(Op.Exp, Binary(Op.Sub, x, Reduce(Op.Max, x, [last], keepDim: true)));
            return Binary(Op.Div, e, Reduce(Op.Sum, e, [last], keepDim: true));
        }

        public static Node LayerNorm(Node x, Node w, Node b, int axes = 1, double eps = 1e-5)
        {
            int[] over = [.. Enumerable.Range(x.Shape.Rank - axes, axes)];
            var d = Binary(Op.Sub, x, Reduce(Op.Mean, x, over, keepDim: true));
            var variance = Reduce(Op.Mean, Binary(Op.Mul, d, d), over, keepDim: true);
            return Binary(Op.Add, Binary(Op.Mul, Binary(Op.Div, d, Unary(Op.Sqrt, Binary(Op.Add, variance, eps))), w), b);
        }

        public static Node LogSoftmax(Node x)
        {
            int last = x.Shape.Rank - 1;
            var d = Binary(Op.Sub, x, Reduce(Op.Max, x, [last], keepDim: true));
            return Binary(Op.Sub, d, Unary(Op.Log, Reduce(Op.Sum, Unary(Op.Exp, d), [last], keepDim: true)));
        }
    }

    /// <summary>
    /// Compiles <paramref name="g"/> through the default pipeline without pattern recognition (which turns the common
    /// forms into library norms), so that the primitives reach fusion as an importer or a backward graph leaves them.
    /// </summary>
    internal static Plan CompilePrimitives(Graph g, CpuBackend backend, int threads = 0)
    {
        var context = new PassContext(2) { Capabilities = backend.Capabilities };
        context.DisabledPasses.Add("pattern-recognition");
        return backend.LowerPlan(PassManager.CreateDefault().Run(g, context), new CompileOptions { OptLevel = 2, Threads = threads });
    }

    private static Graph Case(string pattern, DType dt, int[] shape, string layout)
    {
        int rank = shape.Length, length = shape[^1];
        Node x;
        Node input;
        switch (layout)
        {
            case "transposed":
            {
                // The rows are columns of the stored tensor: read with a stride along the reduced axis.
                int[] stored = [.. shape[..^2], shape[^1], shape[^2]];
                input = Input("x", dt, Shape.Of(stored));
                int[] perm = [.. Enumerable.Range(0, rank - 2), rank - 1, rank - 2];
                x = Permute(input, perm);
                break;
            }

            case "strided":
            {
                // Every other element of a stored row: a stride of 2 along the reduced axis.
                input = Input("x", dt, Shape.Of([.. shape[..^1], 2 * length]));
                x = Slice(input, rank - 1, 1, 2 * length, step: 2);
                break;
            }

            case "sliced":
            {
                // The rows start at an offset of a wider stored row.
                input = Input("x", dt, Shape.Of([.. shape[..^1], length + 5]));
                x = Slice(input, rank - 1, 3, 3 + length);
                break;
            }

            default:
                input = Input("x", dt, Shape.Of(shape));
                x = input;
                break;
        }

        var rng = new Random(length);
        var w = Weight(rng, "w", dt, length);
        var b = Weight(rng, "b", dt, length);
        var y = pattern switch
        {
            "rms_norm" => Patterns.RmsNorm(x, w),
            "softmax" => Patterns.Softmax(x),
            "layer_norm" => Patterns.LayerNorm(x, w, b),
            "log_softmax" => Patterns.LogSoftmax(x),
            _ => throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "unknown pattern"),
        };
        return new Graph([input], [y]);
    }

    private static Node Weight(Random rng, string name, DType dt, int length) => Constant(CpuHarness.Random(rng, dt, [length], -1, 1), name);

    private static HostTensor Data(Graph g, int seed) =>
        CpuHarness.Random(new Random(seed), g.Inputs[0].DType, [.. g.Inputs[0].Shape.Select(d => (int)d.TryGetConstant()!.Value)], -3, 3);

    private static int GeneratedSteps(Plan plan) => plan.Definition.Steps.Count(s => s.Kernel.StartsWith("gen:", StringComparison.Ordinal));

    public static TheoryData<string, DType, int[], string, int> Cases()
    {
        var data = new TheoryData<string, DType, int[], string, int>();
        string[] patterns = ["rms_norm", "softmax", "layer_norm", "log_softmax"];
        int[][] shapes = [[4, 1], [3, 7], [5, 33], [2, 3, 768], [3, 1001]];
        int bits = 0;
        foreach (string p in patterns)
        {
            foreach (int[] s in shapes)
            {
                data.Add(p, DType.F32, s, "dense", bits);
                bits = bits switch { 0 => 128, 128 => 256, 256 => 512, _ => 0 };
            }

            // (The layout pass writes x * x of a permuted x as a permuted product: a kernel of its own before the row's.)
            if (p != "rms_norm") data.Add(p, DType.F32, [6, 45], "transposed", 256);
            data.Add(p, DType.F32, [5, 37], "strided", 0);
            data.Add(p, DType.F32, [2, 4, 19], "sliced", 512);
            data.Add(p, DType.BF16, [3, 130], "dense", 0);
            data.Add(p, DType.F16, [2, 67], "strided", 128);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_norm_written_from_primitives_is_one_kernel_and_matches_the_reference(string pattern, DType dt, int[] shape, string layout, int vectorBits)
    {
        var g = Case(pattern, dt, shape, layout);
        var plan = CompilePrimitives(g, new CpuBackend(vectorBits), threads: shape[0] % 3);
        if (shape[^1] > 1)
        {
            // (A row of one element broadcasts nothing: no reduce_broadcast group forms there.)
            Assert.Single(plan.Definition.Steps);
            Assert.Equal(1, GeneratedSteps(plan));
            Assert.Contains("bred r", plan.KernelDump, StringComparison.Ordinal);
        }

        var (atol, rtol) = dt switch { DType.F16 => (1e-2, 1e-2), DType.BF16 => (5e-2, 3e-2), _ => (2e-5, 2e-5) };
        var inputs = new[] { Data(g, shape.Sum()) };
        CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), atol, rtol, plan.Describe);
    }
}
