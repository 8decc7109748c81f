using System.Reflection;
using System.Reflection.Emit;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// The vectorized variants of a generated elementwise kernel, for launches whose operands need no strided index: each
/// thread takes <see cref="Lanes(ElementwiseSpec)"/> consecutive output elements (4 where every operand is f32, 8
/// where one is f16 or bf16) with 16-byte loads and stores (<see cref="GpuVector"/>), in a grid-stride loop over
/// 32-bit indices, then the elements past the last whole block one at a time. Two forms:
/// <list type="bullet">
/// <item><c>flat</c>: every contiguous input is dense with the output from its view's start and every broadcast input
/// is one scalar; no division at all.</item>
/// <item><c>rows</c>: the output seen as rows of <c>cols</c> elements; a contiguous input reads row r's elements from
/// <c>r · rowStride</c> (a bias over the last dimension has row stride 0), a broadcast input reads element
/// <c>r · rowStride</c> for the whole row (a row scale); one 32-bit division per block.</item>
/// </list>
/// The <c>flat</c> kernel also has an unrolled form (<see cref="Unroll(ElementwiseSpec)"/> blocks a grid-stride step,
/// every load before any math), and specs with an f16 operand have forms that widen f16 with the hardware conversion
/// (<see cref="GpuMath.HalfToF32"/>) and narrow it with <see cref="GpuMath.F32ToHalf"/>.
/// Parameters: <c>(Index1D, ArrayView&lt;Quad&gt; outQuads, ArrayView out, then per input ArrayView&lt;Quad&gt; quads,
/// ArrayView view, then int count, int blocks, int threads, int cols, then per input int rowStride)</c>. The views start at
/// the operands' first elements; <c>blocks</c> (whole blocks taken vectorized, 0 when an operand is not 16-byte
/// aligned) and the grid-stride step <c>threads</c> come from the launch. Bool operands are read and written one element
/// at a time inside the block.
/// </summary>
internal static class VectorKernelEmitter
{
    /// <summary>Whether <paramref name="spec"/> has vectorized variants: one output and no strided input.</summary>
    public static bool Supports(ElementwiseSpec spec) =>
        spec.Stores.Count == 0 && spec.Inputs.All(i => i.Access != InnerAccess.Strided);

    /// <summary>Elements a thread takes per block: 8 when an operand is 16-bit, else 4.</summary>
    public static int Lanes(ElementwiseSpec spec) =>
        spec.OutDType is DType.F16 or DType.BF16 || spec.Inputs.Any(i => i.DType is DType.F16 or DType.BF16) ? 8 : 4;

    /// <summary>
    /// Blocks an unrolled <c>flat</c> kernel takes per grid-stride step: 4 where every operand is f32 (four 16-byte loads
    /// of each input in flight), else 2.
    /// </summary>
    public static int Unroll(ElementwiseSpec spec) => Lanes(spec) == 4 ? 4 : 2;

    /// <summary>The kernel's parameter types (see the type's remarks).</summary>
    public static Type[] ParameterTypes(ElementwiseSpec spec)
    {
        var p = new List<Type> { typeof(Index1D), typeof(ArrayView<Quad>), ElementwiseKernelEmitter.ViewOf(spec.OutDType) };
        foreach (var input in spec.Inputs)
        {
            p.Add(typeof(ArrayView<Quad>));
            p.Add(ElementwiseKernelEmitter.ViewOf(input.DType));
        }

        p.AddRange([typeof(int), typeof(int), typeof(int), typeof(int)]);
        p.AddRange(spec.Inputs.Select(_ => typeof(int)));
        return [.. p];
    }

    private static MethodInfo Vector(string name) =>
        typeof(GpuVector).GetMethod(name, BindingFlags.Public | BindingFlags.Static) ?? throw new InvalidOperationException($"GpuVector has no {name}");

    private static readonly FieldInfo[] LaneFields = [.. Enumerable.Range(0, 8).Select(j => typeof(Lanes).GetField("L" + j)!)];

    private static string LoadName(DType dtype, int lanes, bool hardwareHalf) => dtype switch
    {
        DType.F32 => lanes == 4 ? nameof(GpuVector.LoadF32x4) : nameof(GpuVector.LoadF32x8),
        DType.F16 => hardwareHalf ? nameof(GpuVector.LoadHalfx8) : nameof(GpuVector.LoadF16x8),
        DType.BF16 => nameof(GpuVector.LoadBF16x8),
        _ => throw new NotSupportedException($"vectorized GPU kernels do not load {dtype.TorchName()}"),
    };

    private static string StoreName(DType dtype, int lanes, bool hardwareHalf) => dtype switch
    {
        DType.F32 => lanes == 4 ? nameof(GpuVector.StoreF32x4) : nameof(GpuVector.StoreF32x8),
        DType.F16 => hardwareHalf ? nameof(GpuVector.StoreHalfx8) : nameof(GpuVector.StoreF16x8),
        DType.BF16 => nameof(GpuVector.StoreBF16x8),
        _ => throw new NotSupportedException($"vectorized GPU kernels do not store {dtype.TorchName()}"),
    };

    /// <summary>
    /// Emits the <c>flat</c> or (<paramref name="rows"/>) <c>rows</c> kernel of <paramref name="spec"/>; a <c>flat</c>
    /// kernel with <paramref name="unroll"/> above 1 takes that many blocks (one grid-stride step apart) per step while
    /// they all lie below <c>blocks</c>, loading every one before computing any, then the rest one block a step; with
    /// <paramref name="hardwareHalf"/>, f16 operands are converted by the hardware's instructions.
    /// </summary>
    public static void Emit(ILGenerator il, ElementwiseSpec spec, bool rows, int unroll = 1, bool hardwareHalf = false)
    {
        if (rows && unroll > 1) throw new ArgumentException("only the flat kernel is unrolled", nameof(unroll));
        int n = spec.Inputs.Count, lanes = Lanes(spec);
        int shift = lanes == 8 ? 3 : 2;
        int QuadArg(int k) => 3 + (2 * k);
        int ViewArg(int k) => 4 + (2 * k);
        int countArg = 3 + (2 * n), blocksArg = countArg + 1, threadsArg = countArg + 2, colsArg = countArg + 3;
        int RowStrideArg(int k) => countArg + 4 + k;
        bool Contiguous(int k) => spec.Inputs[k].Access == InnerAccess.Contiguous;

        var i = il.DeclareLocal(typeof(int));
        var q = il.DeclareLocal(typeof(int));
        var e = il.DeclareLocal(typeof(int));
        var r = il.DeclareLocal(typeof(int));
        var c = il.DeclareLocal(typeof(int));
        var at = Enumerable.Range(0, n).Select(_ => il.DeclareLocal(typeof(int))).ToArray();
        var scalar = Enumerable.Range(0, n).Select(_ => il.DeclareLocal(typeof(float))).ToArray();
        var loaded = Enumerable.Range(0, n).Select(_ => il.DeclareLocal(typeof(Lanes))).ToArray();
        var result = il.DeclareLocal(typeof(Lanes));

        void LoadScalar(int k, LocalBuilder index)
        {
            il.Emit(OpCodes.Ldarg, (short)ViewArg(k));
            il.Emit(OpCodes.Ldloc, index);
            il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(ElementwiseKernelEmitter.LoadName(spec.Inputs[k].DType, hardwareHalf)));
        }

        // Where element e of the output lies in each input: e (flat), or r · rowStride (+ c when contiguous) with
        // r = e / cols, c = e - r · cols (rows); a flat broadcast input was read once before the loops.
        void Locate()
        {
            if (rows)
            {
                il.Emit(OpCodes.Ldloc, e);
                il.Emit(OpCodes.Ldarg, (short)colsArg);
                il.Emit(OpCodes.Div_Un);
                il.Emit(OpCodes.Stloc, r);
                il.Emit(OpCodes.Ldloc, e);
                il.Emit(OpCodes.Ldloc, r);
                il.Emit(OpCodes.Ldarg, (short)colsArg);
                il.Emit(OpCodes.Mul);
                il.Emit(OpCodes.Sub);
                il.Emit(OpCodes.Stloc, c);
            }

            for (int k = 0; k < n; k++)
            {
                if (!rows)
                {
                    if (!Contiguous(k)) continue;
                    il.Emit(OpCodes.Ldloc, e);
                }
                else
                {
                    il.Emit(OpCodes.Ldloc, r);
                    il.Emit(OpCodes.Ldarg, (short)RowStrideArg(k));
                    il.Emit(OpCodes.Mul);
                    if (Contiguous(k))
                    {
                        il.Emit(OpCodes.Ldloc, c);
                        il.Emit(OpCodes.Add);
                    }
                }

                il.Emit(OpCodes.Stloc, at[k]);
                if (rows && !Contiguous(k))
                {
                    LoadScalar(k, at[k]);
                    il.Emit(OpCodes.Stloc, scalar[k]);
                }
            }
        }

        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, Vector(nameof(GpuVector.Thread)));
        il.Emit(OpCodes.Stloc, i);
        if (!rows)
        {
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Stloc, e);
            for (int k = 0; k < n; k++)
            {
                if (Contiguous(k)) continue;
                LoadScalar(k, e);
                il.Emit(OpCodes.Stloc, scalar[k]);
            }
        }

        il.Emit(OpCodes.Ldloc, i);
        il.Emit(OpCodes.Stloc, q);
        if (unroll > 1) EmitUnrolled(il, spec, unroll, hardwareHalf, q, scalar, QuadArg, ViewArg, blocksArg, threadsArg);

        // The vectorized blocks: q = i, i + threads, ... below blocks (after the unrolled steps: from where they stopped).
        var body = il.DefineLabel();
        var check = il.DefineLabel();
        il.Emit(OpCodes.Br, check);
        il.MarkLabel(body);
        il.Emit(OpCodes.Ldloc, q);
        il.Emit(OpCodes.Ldc_I4, shift);
        il.Emit(OpCodes.Shl);
        il.Emit(OpCodes.Stloc, e);
        Locate();
        for (int k = 0; k < n; k++)
        {
            if (!Contiguous(k) || spec.Inputs[k].DType == DType.Bool) continue;
            il.Emit(OpCodes.Ldarg, (short)QuadArg(k));
            il.Emit(OpCodes.Ldloc, at[k]);
            il.Emit(OpCodes.Call, Vector(LoadName(spec.Inputs[k].DType, lanes, hardwareHalf)));
            il.Emit(OpCodes.Stloc, loaded[k]);
        }

        EmitLanes(il, spec, hardwareHalf, scalar, ViewArg, k => at[k], loaded, e, result);

        if (spec.OutDType != DType.Bool)
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, e);
            il.Emit(OpCodes.Ldloc, result);
            il.Emit(OpCodes.Call, Vector(StoreName(spec.OutDType, lanes, hardwareHalf)));
        }

        il.Emit(OpCodes.Ldloc, q);
        il.Emit(OpCodes.Ldarg, (short)threadsArg);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, q);
        il.MarkLabel(check);
        il.Emit(OpCodes.Ldloc, q);
        il.Emit(OpCodes.Ldarg, (short)blocksArg);
        il.Emit(OpCodes.Blt, body);

        // The elements past the blocks, one per thread: e = blocks · lanes + i, + threads, ... below count.
        var tail = il.DefineLabel();
        var tailCheck = il.DefineLabel();
        il.Emit(OpCodes.Ldarg, (short)blocksArg);
        il.Emit(OpCodes.Ldc_I4, shift);
        il.Emit(OpCodes.Shl);
        il.Emit(OpCodes.Ldloc, i);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, e);
        il.Emit(OpCodes.Br, tailCheck);
        il.MarkLabel(tail);
        Locate();
        var single = ElementwiseKernelEmitter.EmitBody(il, spec, k =>
        {
            if (Contiguous(k)) LoadScalar(k, at[k]);
            else il.Emit(OpCodes.Ldloc, scalar[k]);
        }, hardwareHalf);
        il.Emit(OpCodes.Ldarg_2);
        il.Emit(OpCodes.Ldloc, e);
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Ldloc, single);
        il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(ElementwiseKernelEmitter.StoreName(spec.OutDType, hardwareHalf)));
        il.Emit(OpCodes.Ldloc, e);
        il.Emit(OpCodes.Ldarg, (short)threadsArg);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, e);
        il.MarkLabel(tailCheck);
        il.Emit(OpCodes.Ldloc, e);
        il.Emit(OpCodes.Ldarg, (short)countArg);
        il.Emit(OpCodes.Blt, tail);
        il.Emit(OpCodes.Ret);
    }
    /// <summary>
    /// Computes the chain for each lane of one block into <paramref name="result"/>'s lane fields: a contiguous input's
    /// value from its loaded block <paramref name="loaded"/>[k] (a bool input's from its view at
    /// <paramref name="offset"/>(k) + lane), a broadcast input's from its <paramref name="scalar"/> local; a bool output
    /// is stored lane by lane at <paramref name="outOffset"/> + lane, any other is left in <paramref name="result"/>.
    /// </summary>
    private static void EmitLanes(
        ILGenerator il, ElementwiseSpec spec, bool hardwareHalf, LocalBuilder[] scalar, Func<int, int> viewArg,
        Func<int, LocalBuilder> offset, LocalBuilder[] loaded, LocalBuilder outOffset, LocalBuilder result)
    {
        for (int j = 0; j < Lanes(spec); j++)
        {
            int lane = j;
            var value = ElementwiseKernelEmitter.EmitBody(il, spec, k =>
            {
                if (spec.Inputs[k].Access != InnerAccess.Contiguous)
                {
                    il.Emit(OpCodes.Ldloc, scalar[k]);
                }
                else if (spec.Inputs[k].DType == DType.Bool)
                {
                    il.Emit(OpCodes.Ldarg, (short)viewArg(k));
                    il.Emit(OpCodes.Ldloc, offset(k));
                    il.Emit(OpCodes.Ldc_I4, lane);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Conv_I8);
                    il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(nameof(GpuMath.LoadBool)));
                }
                else
                {
                    il.Emit(OpCodes.Ldloca, loaded[k]);
                    il.Emit(OpCodes.Ldfld, LaneFields[lane]);
                }
            }, hardwareHalf);
            if (spec.OutDType == DType.Bool)
            {
                il.Emit(OpCodes.Ldarg_2);
                il.Emit(OpCodes.Ldloc, outOffset);
                il.Emit(OpCodes.Ldc_I4, lane);
                il.Emit(OpCodes.Add);
                il.Emit(OpCodes.Conv_I8);
                il.Emit(OpCodes.Ldloc, value);
                il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(nameof(GpuMath.StoreBool)));
            }
            else
            {
                il.Emit(OpCodes.Ldloca, result);
                il.Emit(OpCodes.Ldloc, value);
                il.Emit(OpCodes.Stfld, LaneFields[lane]);
            }
        }
    }

    /// <summary>
    /// The unrolled steps of a <c>flat</c> kernel: while <c>q + (unroll - 1) · threads &lt; blocks</c>, blocks
    /// <c>q + u · threads</c> for u below <paramref name="unroll"/>: every input's 16-byte loads of every block, then
    /// each block's math, then its stores; <c>q</c> advances by <c>unroll · threads</c> and is left where the steps stop.
    /// </summary>
    private static void EmitUnrolled(
        ILGenerator il, ElementwiseSpec spec, int unroll, bool hardwareHalf, LocalBuilder q, LocalBuilder[] scalar,
        Func<int, int> quadArg, Func<int, int> viewArg, int blocksArg, int threadsArg)
    {
        int n = spec.Inputs.Count, lanes = Lanes(spec);
        int shift = lanes == 8 ? 3 : 2;
        bool Contiguous(int k) => spec.Inputs[k].Access == InnerAccess.Contiguous;
        var es = Enumerable.Range(0, unroll).Select(_ => il.DeclareLocal(typeof(int))).ToArray();
        var loaded = Enumerable.Range(0, unroll).Select(_ => Enumerable.Range(0, n).Select(_ => il.DeclareLocal(typeof(Lanes))).ToArray()).ToArray();
        var results = Enumerable.Range(0, unroll).Select(_ => il.DeclareLocal(typeof(Lanes))).ToArray();
        var body = il.DefineLabel();
        var check = il.DefineLabel();
        il.Emit(OpCodes.Br, check);
        il.MarkLabel(body);
        for (int u = 0; u < unroll; u++)
        {
            // e_u = (q + u · threads) << shift.
            il.Emit(OpCodes.Ldloc, q);
            for (int t = 0; t < u; t++)
            {
                il.Emit(OpCodes.Ldarg, (short)threadsArg);
                il.Emit(OpCodes.Add);
            }

            il.Emit(OpCodes.Ldc_I4, shift);
            il.Emit(OpCodes.Shl);
            il.Emit(OpCodes.Stloc, es[u]);
        }

        for (int u = 0; u < unroll; u++)
        {
            for (int k = 0; k < n; k++)
            {
                if (!Contiguous(k) || spec.Inputs[k].DType == DType.Bool) continue;
                il.Emit(OpCodes.Ldarg, (short)quadArg(k));
                il.Emit(OpCodes.Ldloc, es[u]);
                il.Emit(OpCodes.Call, Vector(LoadName(spec.Inputs[k].DType, lanes, hardwareHalf)));
                il.Emit(OpCodes.Stloc, loaded[u][k]);
            }
        }

        for (int u = 0; u < unroll; u++)
        {
            var eu = es[u];
            EmitLanes(il, spec, hardwareHalf, scalar, viewArg, _ => eu, loaded[u], eu, results[u]);
        }

        if (spec.OutDType != DType.Bool)
        {
            for (int u = 0; u < unroll; u++)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldloc, es[u]);
                il.Emit(OpCodes.Ldloc, results[u]);
                il.Emit(OpCodes.Call, Vector(StoreName(spec.OutDType, lanes, hardwareHalf)));
            }
        }

        // q += unroll · threads.
        il.Emit(OpCodes.Ldloc, q);
        for (int t = 0; t < unroll; t++)
        {
            il.Emit(OpCodes.Ldarg, (short)threadsArg);
            il.Emit(OpCodes.Add);
        }

        il.Emit(OpCodes.Stloc, q);

        // Loop while q + (unroll - 1) · threads < blocks (blocks and threads below 2^30: no overflow).
        il.MarkLabel(check);
        il.Emit(OpCodes.Ldloc, q);
        for (int t = 1; t < unroll; t++)
        {
            il.Emit(OpCodes.Ldarg, (short)threadsArg);
            il.Emit(OpCodes.Add);
        }

        il.Emit(OpCodes.Ldarg, (short)blocksArg);
        il.Emit(OpCodes.Blt, body);
    }
}
