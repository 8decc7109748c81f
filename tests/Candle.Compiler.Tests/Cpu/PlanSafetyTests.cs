using System.Security.Cryptography;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Hostile plan files: a modified byte anywhere (weights, kernel assembly, definition) fails its SHA-256 before
/// anything loads; structurally hostile plans (re-saved with valid hashes) fail verification with a
/// <see cref="PlanFormatException"/> naming what is wrong instead of creating threads, overflowing the stack or
/// touching memory outside a buffer; signatures bind a plan to a trusted key.
/// </summary>
public sealed class PlanSafetyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-plan-safety-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A plan with generated kernels, a runtime copy (concatenation), weights and a symbolic length.</summary>
    private static Plan Build()
    {
        var rng = new Random(7);
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 16));
        var y = Unary(Op.Tanh, Linear(x, ModelTests.Weight(rng, "w", 16, 16), ModelTests.Weight(rng, "b", 16)));
        var z = Concat([y, Unary(Op.Exp, x)], 0);
        return CandleCompiler.Compile(new Graph([x], [z], ["z"]));
    }

    private static HostTensor[] Inputs(int n) => [CpuHarness.Random(new Random(n), DType.F32, [n, 16])];

    private string Saved(Plan plan, string name, ECDsa? key = null)
    {
        string path = Path.Combine(_dir, name);
        if (key is null) plan.Save(path);
        else plan.Save(path, key);
        return path;
    }

    /// <summary>The byte range of a section as the file's header lists it (sections: 0 definition, 1 assembly, 2 listing, 3 weights).</summary>
    private static (long Offset, long Length) Section(string path, int section)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        r.BaseStream.Position = 16 + (section * 48);
        return (r.ReadInt64(), r.ReadInt64());
    }

    private static void Flip(string path, long at)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[at] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
    }

    [Theory]
    [InlineData(0, "definition")]
    [InlineData(1, "kernel assembly")]
    [InlineData(3, "weights")]
    public void A_modified_byte_in_any_section_fails_its_hash_before_loading(int section, string name)
    {
        string path = Saved(Build(), $"flip{section}.plan");
        var (offset, length) = Section(path, section);
        Flip(path, offset + (length / 2));
        var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_untampered_plan_loads_and_runs_identically()
    {
        var plan = Build();
        var loaded = Plan.Load(Saved(plan, "ok.plan"));
        foreach (int n in new[] { 1, 9 })
        {
            var a = plan.Run(Inputs(n));
            var b = loaded.Run(Inputs(n));
            Assert.True(a[0].Data.Span.SequenceEqual(b[0].Data.Span));
        }
    }

    [Fact]
    public void A_huge_thread_count_is_rejected_before_any_thread_starts()
    {
        var plan = Build();
        var hostile = new Plan(plan.Definition with { Threads = 65280 }, plan.Payload, plan.Weights);
        string path = Saved(hostile, "threads.plan");
        var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
        Assert.Contains("thread count 65280", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_built_with_more_threads_than_processors_starts_none_of_its_own()
    {
        var plan = Build();
        int before = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        using var wide = new Plan(plan.Definition with { Threads = 3000 }, plan.Payload, plan.Weights);
        int after = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        Assert.True(after - before < 64, $"{after - before} threads started");
        Assert.True(plan.Run(Inputs(4))[0].Data.Span.SequenceEqual(wide.Run(Inputs(4))[0].Data.Span));
    }

    [Fact]
    public void Deeply_nested_or_long_size_expressions_are_format_errors_not_stack_overflows()
    {
        Assert.Throws<FormatException>(() => DimExpr.Parse(new string('(', 200_000) + "n" + new string(')', 200_000)));
        Assert.Throws<FormatException>(() => DimExpr.Parse(string.Join("+", Enumerable.Repeat("n", 1_000_000))));
        Assert.Throws<FormatException>(() => DimExpr.Parse("99999999999999999999999"));

        var plan = Build();
        var deep = DimExpr.Sym("n");
        for (int i = 0; i < 40; i++) deep = DimExpr.FloorDiv(deep, 1);
        var buffers = plan.Definition.Buffers.ToList();
        int arena = buffers.FindIndex(b => b.Kind == BufferKind.Arena);
        buffers[arena] = buffers[arena] with { Bytes = deep };
        string path = Saved(new Plan(plan.Definition with { Buffers = buffers }, plan.Payload, plan.Weights), "deep.plan");
        var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
        Assert.Contains("deeper", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_edited_copy_offset_fails_at_the_call_instead_of_reading_outside_the_buffer()
    {
        var plan = Build();
        var steps = plan.Definition.Steps.ToList();
        int copy = steps.FindIndex(s => s.Kernel == "rt:copy");
        Assert.True(copy >= 0, "the test plan has a copy step");
        var args = steps[copy].Args.ToArray();
        // Args: dstSlot, srcSlot, elementSize, rank, shape[rank], dstOffset, dstStrides[rank], srcOffset, srcStrides[rank].
        int rank = (int)args[3].Value;
        args[4 + rank + 1 + rank] = DimExpr.Const(1L << 30);
        steps[copy] = steps[copy] with { Args = args };
        string path = Saved(new Plan(plan.Definition with { Steps = steps }, plan.Payload, plan.Weights), "copy.plan");
        var loaded = Plan.Load(path);
        var e = Assert.Throws<PlanFormatException>(() => loaded.Run(Inputs(5)));
        Assert.Contains("rt:copy", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_step_whose_arguments_repeat_is_checked_against_each_binding_s_buffer_sizes()
    {
        // The copy's arguments and work made constant (those of n = 5), its source offset moved 30 rows in: inside the source of
        // a call with n = 40, outside the one of n = 5. A later binding reuses the step's decoded accesses (its
        // arguments are the same) but must still check them against its own, smaller buffers.
        var plan = Build();
        var steps = plan.Definition.Steps.ToList();
        int copy = steps.FindIndex(s => s.Kernel == "rt:copy");
        Assert.True(copy >= 0, "the test plan has a copy step");
        var at5 = new Dictionary<string, long>(StringComparer.Ordinal) { ["n"] = 5 };
        var args = steps[copy].Args.Select(a => DimExpr.Const(a.Evaluate(at5))).ToArray();
        int rank = (int)args[3].Value;
        int srcOffset = 4 + rank + 1 + rank;
        args[srcOffset] = DimExpr.Const(args[srcOffset].Value + (30 * 16));
        steps[copy] = steps[copy] with { Args = args, Work = DimExpr.Const(steps[copy].Work.Evaluate(at5)) };
        var edited = new Plan(plan.Definition with { Steps = steps }, plan.Payload, plan.Weights);
        edited.Run(Inputs(40));
        var e = Assert.Throws<PlanFormatException>(() => edited.Run(Inputs(5)));
        Assert.Contains("rt:copy", e.Message, StringComparison.Ordinal);
        edited.Run(Inputs(40));
        Assert.Throws<PlanFormatException>(() => edited.Run(Inputs(6)));
    }

    [Fact]
    public void Unknown_kernels_and_out_of_range_buffer_records_are_rejected_at_load()
    {
        var plan = Build();
        var steps = plan.Definition.Steps.ToList();
        steps[0] = steps[0] with { Kernel = "rt:no_such_kernel" };
        var badKernel = plan.Definition with { Steps = steps };
        var buffers = plan.Definition.Buffers.ToList();
        int w = buffers.FindIndex(b => b.Kind == BufferKind.Weight);
        buffers[w] = buffers[w] with { Index = 99 };
        var badBuffer = plan.Definition with { Buffers = buffers };
        var outputs = plan.Definition.Outputs.Select(o => o with { Buffer = 1000 }).ToList();
        var badOutput = plan.Definition with { Outputs = outputs };
        foreach (var (def, fragment) in new[] { (badKernel, "no_such_kernel"), (badBuffer, "index 99"), (badOutput, "b1000") })
        {
            string path = Path.Combine(_dir, "bad.plan");
            PlanFile.Write(def, plan.KernelAssemblyBytes, plan.KernelDump, plan.Weights, path, null);
            var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
            Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_signed_plan_loads_only_under_a_trusted_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var plan = Build();
        string signed = Saved(plan, "signed.plan", key);
        string unsigned = Saved(plan, "unsigned.plan");
        var trusted = new PlanLoadOptions { TrustedKeys = [Plan.PublicKeyOf(key)] };

        var loaded = Plan.Load(signed, trusted);
        Assert.True(plan.Run(Inputs(3))[0].Data.Span.SequenceEqual(loaded.Run(Inputs(3))[0].Data.Span));
        Assert.Contains("not signed", Assert.Throws<PlanFormatException>(() => Plan.Load(unsigned, trusted)).Message, StringComparison.Ordinal);
        Assert.Contains("not among the trusted", Assert.Throws<PlanFormatException>(() => Plan.Load(signed, new PlanLoadOptions { TrustedKeys = [Plan.PublicKeyOf(other)] })).Message, StringComparison.Ordinal);

        // A section replaced together with its hash in the header breaks the signature.
        var (offset, length) = Section(signed, 3);
        var bytes = File.ReadAllBytes(signed);
        bytes[offset + (length / 2)] ^= 1;
        SHA256.HashData(bytes.AsSpan((int)offset, (int)length)).CopyTo(bytes.AsSpan(16 + (3 * 48) + 16));
        File.WriteAllBytes(signed, bytes);
        Assert.Contains("signature does not verify", Assert.Throws<PlanFormatException>(() => Plan.Load(signed, trusted)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_1_plan_is_refused_with_a_clear_message()
    {
        string path = Path.Combine(_dir, "v1.plan");
        File.WriteAllBytes(path, [.. "CNDLPLAN"u8.ToArray(), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Contains("version 1", Assert.Throws<PlanFormatException>(() => Plan.Load(path)).Message, StringComparison.Ordinal);
    }
}
