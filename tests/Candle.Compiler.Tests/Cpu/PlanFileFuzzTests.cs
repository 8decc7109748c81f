using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Tests;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Standing fuzz tests of plan-file consumers (<see cref="Plan.Load(string)"/> and running the loaded plan): random
/// byte edits and truncations of a real plan file, and random edits of its records re-saved with valid hashes, end in
/// a <see cref="PlanFormatException"/> naming the file, or in a plan whose outputs equal the original's (or a clear
/// argument error at the call), within a memory bound. Fixed seed by default; CANDLE_FUZZ_ITERATIONS=N runs longer.
/// </summary>
public sealed class PlanFileFuzzTests : IDisposable
{
    private const long AllocationBound = 256L << 20;
    private static readonly Lazy<Plan> Original = new(Build);
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-plan-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Plan Build()
    {
        var rng = new Random(11);
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 8));
        var y = Softmax(Unary(Op.Tanh, Linear(x, ModelTests.Weight(rng, "w", 8, 8), ModelTests.Weight(rng, "b", 8))), -1);
        return CandleCompiler.Compile(new Graph([x], [Concat([y, Unary(Op.Exp, x)], 0)], ["z"]));
    }

    private static HostTensor[] Inputs => [CpuHarness.Random(new Random(3), DType.F32, [5, 8])];

    /// <summary>
    /// Loads and runs; the result is a clear exception or the original's outputs (any outputs after an edit that keeps
    /// the plan valid but changes what it computes: the hashes and a signature, not the verifier, vouch for intent).
    /// </summary>
    private static void LoadAndCheck(string path, bool semantic)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            using var plan = Plan.Load(path);
            HostTensor[] got;
            try
            {
                got = plan.Run(Inputs);
            }
            catch (ArgumentException)
            {
                return;
            }

            if (semantic) return;
            var want = Original.Value.Run(Inputs);
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++) Assert.True(want[i].Data.Span.SequenceEqual(got[i].Data.Span), "a loaded plan computed something else");
        }
        catch (PlanFormatException e)
        {
            // Load errors name the file; an error found when the plan binds its sizes names the step or buffer.
            Assert.True(e.Message.Contains(path, StringComparison.Ordinal) || e.Message.StartsWith("plan ", StringComparison.Ordinal), e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < AllocationBound, $"allocated {allocated} bytes");
        }
    }

    [Fact]
    public void Byte_edits_and_truncations_are_rejected_before_loading()
    {
        string clean = Path.Combine(_dir, "clean.plan");
        Original.Value.Save(clean);
        byte[] bytes = File.ReadAllBytes(clean);
        var edit = Gen.Select(Gen.Int[0, bytes.Length - 1], Gen.Byte[1, 255]);
        Gen.Select(edit.Array[1, 4], Gen.Int[0, 8]).Sample(
            (edits, cut) =>
            {
                var copy = (byte[])bytes.Clone();
                foreach (var (at, mask) in edits) copy[at] ^= mask;
                if (cut == 0) copy = copy[..(copy.Length * edits[0].Item1 / bytes.Length)];
                string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".plan");
                File.WriteAllBytes(path, copy);
                var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
                Assert.Contains(path, e.Message, StringComparison.Ordinal);
                File.Delete(path);
            },
            seed: FuzzSettings.Seed,
            iter: FuzzSettings.Iterations(60),
            threads: 1);
    }

    [Fact]
    public void Record_edits_with_valid_hashes_are_rejected_or_harmless()
    {
        var plan = Original.Value;
        var def = plan.Definition;
        var gen = Gen.Select(Gen.Int[0, 7], Gen.Int[0, 1000], Gen.OneOf<long>(-1, 0, 1, 2, 3, 7, 64, 1 << 20, int.MaxValue, long.MaxValue, long.MinValue));
        gen.Array[1, 3].Sample(
            edits =>
            {
                var d = def;
                foreach (var (what, pick, value) in edits) d = Edit(d, what, pick, value);
                bool semantic = edits.Any(e => e.Item1 is 2 or 6 or 7);
                string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".plan");
                PlanFile.Write(d, plan.KernelAssemblyBytes, plan.KernelDump, plan.Weights, path, null);
                LoadAndCheck(path, semantic);
                File.Delete(path);
            },
            seed: FuzzSettings.Seed,
            iter: FuzzSettings.Iterations(60),
            threads: 1);
    }

    /// <summary>
    /// A plan calling the runtime's convolution, pooling, gather, scatter_add, copy, fill, range-check and elementwise
    /// kernels (x: [n, 2, 8] float32, ids: [n, 4] int64 in [0, 10)).
    /// </summary>
    private static Plan BuildRuntimeKernels()
    {
        var rng = new Random(12);
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 2, 8));
        var ids = Input("ids", DType.I64, new Shape(n, 4));
        var c = Conv(x, ModelTests.Weight(rng, "cw", 3, 2, 3), ModelTests.Weight(rng, "cb", 3), [1], [1], [1], 1);
        var pooled = Pad(Pool(Op.MaxPool, c, [2], [2], [0]), [1, 1], 0.25);
        var table = ModelTests.Weight(rng, "table", 10, 4);
        var looked = Binary(Op.Add, Gather(table, 0, ids), Narrow(table, 0, 0, n));
        var scattered = ScatterAdd(table, 0, ids, Cast(ids, DType.F32));
        var squares = Binary(Op.Mul, ids, ids);
        return CandleCompiler.Compile(new Graph([x, ids], [pooled, looked, scattered, squares], ["pooled", "looked", "scattered", "squares"]));
    }

    private static HostTensor[] RuntimeKernelInputs =>
    [
        CpuHarness.Random(new Random(4), DType.F32, [5, 2, 8]),
        HostTensor.FromArray(Enumerable.Range(0, 20).Select(i => (long)((i * 3) % 10)).ToArray(), 5, 4),
    ];

    [Fact]
    public void Runtime_kernel_argument_edits_with_valid_hashes_are_rejected_or_run_inside_their_buffers()
    {
        using var plan = BuildRuntimeKernels();
        var def = plan.Definition;
        var kernels = def.Steps.Select(s => s.Kernel).ToHashSet();
        foreach (string k in new[] { "rt:conv_gemm", "rt:pool", "rt:gather", "rt:scatter_add", "rt:fill", "rt:check_range", "rt:elementwise" })
        {
            Assert.Contains(k, kernels);
        }

        int[] runtime = [.. Enumerable.Range(0, def.Steps.Count).Where(i => def.Steps[i].Kernel.StartsWith("rt:", StringComparison.Ordinal))];
        var edit = Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.OneOf<long>(-1, 0, 1, 2, 3, 7, 16, 17, 64, 1 << 20, int.MaxValue, long.MaxValue, long.MinValue));
        edit.Array[1, 2].Sample(
            edits =>
            {
                var steps = def.Steps.ToArray();
                foreach (var (step, arg, value) in edits)
                {
                    int s = runtime[step % runtime.Length];
                    var args = steps[s].Args.ToArray();
                    args[arg % args.Length] = DimExpr.Const(value);
                    steps[s] = steps[s] with { Args = args };
                }

                string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".plan");
                PlanFile.Write(def with { Steps = steps }, plan.KernelAssemblyBytes, plan.KernelDump, plan.Weights, path, null);
                LoadAndRun(path);
                File.Delete(path);
            },
            seed: FuzzSettings.Seed,
            iter: FuzzSettings.Iterations(150),
            threads: 1);
    }

    /// <summary>
    /// Loads and runs an edited plan of <see cref="BuildRuntimeKernels"/>: it runs, or fails with an exception naming
    /// the file or the step (a format error, an index the kernel found out of range, a failed range check).
    /// </summary>
    private static void LoadAndRun(string path)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            using var loaded = Plan.Load(path);
            loaded.Run(RuntimeKernelInputs);
        }
        catch (PlanFormatException e)
        {
            Assert.True(e.Message.Contains(path, StringComparison.Ordinal) || e.Message.StartsWith("plan ", StringComparison.Ordinal), e.Message);
        }
        catch (ArgumentException)
        {
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("plan step ", StringComparison.Ordinal)
            && (e.InnerException is IndexOutOfRangeException { Message: var m } && (m.StartsWith("gather: index ", StringComparison.Ordinal) || m.StartsWith("scatter_add: index ", StringComparison.Ordinal))
                || e.InnerException is ArgumentOutOfRangeException { Message: var r } && r.StartsWith("the range [", StringComparison.Ordinal)))
        {
        }
        finally
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < AllocationBound, $"allocated {allocated} bytes");
        }
    }

    /// <summary>One edit of a record the verifier is responsible for (never an arena size or a generated kernel's arguments).</summary>
    private static PlanDefinition Edit(PlanDefinition d, int what, int pick, long value)
    {
        int v = (int)Math.Clamp(value, int.MinValue, int.MaxValue);
        switch (what)
        {
            case 0:
                return d with { Threads = v };
            case 1:
            {
                var buffers = d.Buffers.ToList();
                int i = pick % buffers.Count;
                buffers[i] = buffers[i] with { Index = v };
                return d with { Buffers = buffers };
            }

            case 2:
            {
                var buffers = d.Buffers.ToList();
                int i = pick % buffers.Count;
                buffers[i] = buffers[i] with { FirstStep = v, LastStep = pick };
                return d with { Buffers = buffers };
            }

            case 3:
                return d with { Outputs = [.. d.Outputs.Select(o => o with { Buffer = v })] };
            case 4:
                return d with { Inputs = [.. d.Inputs.Select(o => o with { Buffer = v })] };
            case 5:
            {
                var steps = d.Steps.ToList();
                int i = pick % steps.Count;
                string[] names = ["rt:nope", "gen:", "gen:k0$", "rt:copy@gen:x", "Candle.Generated.Kernels", "rt:", "gen:k0_missing"];
                steps[i] = steps[i] with { Kernel = names[pick % names.Length] };
                return d with { Steps = steps };
            }

            case 6:
            {
                var steps = d.Steps.ToList();
                int i = steps.FindIndex(s => s.Kernel == "rt:copy");
                var args = steps[i].Args.ToArray();
                args[pick % args.Length] = DimExpr.Const(value);
                steps[i] = steps[i] with { Args = args };
                return d with { Steps = steps };
            }

            default:
            {
                var buffers = d.Buffers.ToList();
                int i = pick % buffers.Count;
                buffers[i] = buffers[i] with { Kind = (BufferKind)(pick % 4) };
                return d with { Buffers = buffers };
            }
        }
    }
}
