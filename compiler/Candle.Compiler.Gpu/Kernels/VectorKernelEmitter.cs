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

    private static string LoadName(DType dtype, int lanes) => dtype switch
    {
        DType.F32 => lanes == 4 ? nameof(GpuVector.LoadF32x4) : nameof(GpuVector.LoadF32x8),
        DType.F16 => nameof(GpuVector.LoadF16x8),
        DType.BF16 => nameof(GpuVector.LoadBF16x8),
        _ => throw new NotSupportedException($"vectorized GPU kernels do not load {dtype.TorchName()}"),
    };

    private static string StoreName(DType dtype, int lanes) => dtype switch
    {
        DType.F32 => lanes == 4 ? nameof(GpuVector.StoreF32x4) : nameof(GpuVector.StoreF32x8),
        DType.F16 => nameof(GpuVector.StoreF16x8),
        DType.BF16 => nameof(GpuVector.StoreBF16x8),
        _ => throw new NotSupportedException($"vectorized GPU kernels do not store {dtype.TorchName()}"),
    };

    /// <summary>Emits the <c>flat</c> or (<paramref name="rows"/>) <c>rows</c> kernel of <paramref name="spec"/>.</summary>
    public static void Emit(ILGenerator il, ElementwiseSpec spec, bool rows)
    {
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
            il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(ElementwiseKernelEmitter.LoadName(spec.Inputs[k].DType)));
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

        // The vectorized blocks: q = i, i + threads, ... below blocks.
        var body = il.DefineLabel();
        var check = il.DefineLabel();
        il.Emit(OpCodes.Ldloc, i);
        il.Emit(OpCodes.Stloc, q);
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
            il.Emit(OpCodes.Call, Vector(LoadName(spec.Inputs[k].DType, lanes)));
            il.Emit(OpCodes.Stloc, loaded[k]);
        }

        for (int j = 0; j < lanes; j++)
        {
            int lane = j;
            var value = ElementwiseKernelEmitter.EmitBody(il, spec, k =>
            {
                if (!Contiguous(k))
                {
                    il.Emit(OpCodes.Ldloc, scalar[k]);
                }
                else if (spec.Inputs[k].DType == DType.Bool)
                {
                    il.Emit(OpCodes.Ldarg, (short)ViewArg(k));
                    il.Emit(OpCodes.Ldloc, at[k]);
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
            });
            if (spec.OutDType == DType.Bool)
            {
                il.Emit(OpCodes.Ldarg_2);
                il.Emit(OpCodes.Ldloc, e);
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

        if (spec.OutDType != DType.Bool)
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, e);
            il.Emit(OpCodes.Ldloc, result);
            il.Emit(OpCodes.Call, Vector(StoreName(spec.OutDType, lanes)));
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
        });
        il.Emit(OpCodes.Ldarg_2);
        il.Emit(OpCodes.Ldloc, e);
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Ldloc, single);
        il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(ElementwiseKernelEmitter.StoreName(spec.OutDType)));
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
}
