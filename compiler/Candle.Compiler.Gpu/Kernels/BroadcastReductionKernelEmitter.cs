using System.Reflection;
using System.Reflection.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using static Candle.Compiler.Gpu.Kernels.ElementwiseKernelEmitter;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Renders a <see cref="BroadcastReductionSpec"/> (a row reduction whose result is read back over the row: softmax,
/// norms and their gradients written from primitives) as an explicitly grouped ILGPU kernel, one group per row. It
/// follows the spec's schedule: the row values before the first pass; then per pass each thread folds the elements
/// <c>j = thread, thread + threads, …</c> of the row into its partial accumulators of that level, the group folds
/// the partials (<see cref="RowFolds"/>: every thread gets the row's value; a mean is the sum over the row length),
/// each accumulator is rounded to its dtype and the row values that depend on the pass are computed; a last pass
/// evaluates the result at every element and stores it densely. Parameters:
/// <c>(ArrayView out, ArrayView in[n], long shape[outer + reduced], then per input long offset, long strides[outer + reduced])</c>,
/// the elementwise kernels' without the index. Each spec has a form per group reducer (<see cref="ShuffleSuffix"/>
/// for CUDA's warp shuffles).
/// </summary>
internal static class BroadcastReductionKernelEmitter
{
    /// <summary>The suffix of the form whose sums and maxima fold by warp shuffles (CUDA).</summary>
    public const string ShuffleSuffix = "_shfl";

    /// <summary>The kernel's parameter types.</summary>
    public static Type[] ParameterTypes(BroadcastReductionSpec spec)
    {
        var p = new List<Type> { ViewOf(spec.OutDType) };
        p.AddRange(spec.Inputs.Select(i => ViewOf(i.DType)));
        for (int d = 0; d < spec.Rank; d++) p.Add(typeof(long));
        for (int k = 0; k < spec.Inputs.Count; k++)
        {
            for (int d = 0; d <= spec.Rank; d++) p.Add(typeof(long));
        }

        return [.. p];
    }

    /// <summary>Throws when the spec has an op or dtype the kernels do not compute (before anything is emitted).</summary>
    /// <exception cref="NotSupportedException">The message names the op or dtype.</exception>
    public static void Check(BroadcastReductionSpec spec)
    {
        _ = StorageType(spec.OutDType);
        foreach (var i in spec.Inputs) _ = StorageType(i.DType);
        foreach (var op in spec.Body)
        {
            if (ReductionSpec.IsAccumulator(op.Op)) _ = Fold(op.Op, shuffle: false);
            else if (op.Op is not (Op.Input or Op.Full or Op.Cast)) _ = OpFunction(op.Op);
        }
    }

    private static MethodInfo Fold(Op op, bool shuffle) => typeof(RowFolds).GetMethod(op switch
    {
        Op.Sum or Op.Mean => shuffle ? nameof(RowFolds.SumShuffle) : nameof(RowFolds.SumShared),
        Op.Max => shuffle ? nameof(RowFolds.MaxShuffle) : nameof(RowFolds.MaxShared),
        Op.Min => shuffle ? nameof(RowFolds.MinShuffle) : nameof(RowFolds.MinShared),
        Op.Prod => nameof(RowFolds.Prod),
        _ => throw new NotSupportedException($"generated GPU row kernels do not fold '{op.Name()}'"),
    }, BindingFlags.Public | BindingFlags.Static)!;

    private static MethodInfo Folds(string name) => typeof(RowFolds).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;

    /// <summary>Emits the kernel body for <paramref name="spec"/> with the group reducer of <paramref name="shuffle"/>.</summary>
    public static void Emit(ILGenerator il, BroadcastReductionSpec spec, bool shuffle)
    {
        int n = spec.Inputs.Count, rank = spec.Rank, outer = spec.OuterRank;
        const int OutArg = 0;
        int shapeAt = 1 + n;
        int OffsetArg(int k) => shapeAt + rank + (k * (1 + rank));
        var body = spec.Body;

        var row = il.DeclareLocal(typeof(long));
        var thread = il.DeclareLocal(typeof(long));
        var threads = il.DeclareLocal(typeof(long));
        var rowLength = il.DeclareLocal(typeof(long));
        var rem = il.DeclareLocal(typeof(long));
        var c = il.DeclareLocal(typeof(long));
        var j = il.DeclareLocal(typeof(long));
        var bases = Enumerable.Range(0, n).Select(_ => il.DeclareLocal(typeof(long))).ToArray();
        var offsets = Enumerable.Range(0, n).Select(_ => il.DeclareLocal(typeof(long))).ToArray();
        var values = body.Select(_ => il.DeclareLocal(typeof(float))).ToArray();

        il.Emit(OpCodes.Call, Folds(nameof(RowFolds.Row)));
        il.Emit(OpCodes.Stloc, row);
        il.Emit(OpCodes.Call, Folds(nameof(RowFolds.Thread)));
        il.Emit(OpCodes.Stloc, thread);
        il.Emit(OpCodes.Call, Folds(nameof(RowFolds.Threads)));
        il.Emit(OpCodes.Stloc, threads);

        // The row length: the product of the reduced dims.
        il.Emit(OpCodes.Ldc_I8, 1L);
        for (int d = outer; d < rank; d++)
        {
            il.Emit(OpCodes.Ldarg, (short)(shapeAt + d));
            il.Emit(OpCodes.Mul);
        }

        il.Emit(OpCodes.Stloc, rowLength);

        // Each input's offset at the row's first element: the row index unravelled over the outer dims.
        for (int k = 0; k < n; k++)
        {
            il.Emit(OpCodes.Ldarg, (short)OffsetArg(k));
            il.Emit(OpCodes.Stloc, bases[k]);
        }

        il.Emit(OpCodes.Ldloc, row);
        il.Emit(OpCodes.Stloc, rem);
        for (int d = outer - 1; d >= 0; d--)
        {
            Unravel(il, d, d > 0, shapeAt, rem, c);
            for (int k = 0; k < n; k++) AddStride(il, bases[k], c, OffsetArg(k) + 1 + d);
        }

        void LoadInput(int k)
        {
            il.Emit(OpCodes.Ldarg, (short)(1 + k));
            il.Emit(OpCodes.Ldloc, offsets[k]);
            il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(LoadName(spec.Inputs[k].DType)));
        }

        // Row values before the first pass (constants, inputs broadcast over the row) read at the row's first element.
        for (int k = 0; k < n; k++)
        {
            il.Emit(OpCodes.Ldloc, bases[k]);
            il.Emit(OpCodes.Stloc, offsets[k]);
        }

        foreach (int b in spec.RowOps(-1)) EmitOp(il, body, b, values, LoadInput);

        var accumulators = spec.Accumulators;
        for (int pass = 0; pass <= spec.ReductionPasses; pass++)
        {
            bool last = pass == spec.ReductionPasses;
            var mine = last ? [] : accumulators.Where(a => spec.Level(a) == pass).ToList();
            foreach (int a in mine)
            {
                il.Emit(OpCodes.Ldc_R4, ReductionSpec.Identity(body[a].Op));
                il.Emit(OpCodes.Stloc, values[a]);
            }

            // for (j = thread; j < rowLength; j += threads)
            var head = il.DefineLabel();
            var exit = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, thread);
            il.Emit(OpCodes.Stloc, j);
            il.MarkLabel(head);
            il.Emit(OpCodes.Ldloc, j);
            il.Emit(OpCodes.Ldloc, rowLength);
            il.Emit(OpCodes.Bge, exit);

            // Each input's offset at element j of the row: j unravelled over the reduced dims.
            for (int k = 0; k < n; k++)
            {
                il.Emit(OpCodes.Ldloc, bases[k]);
                il.Emit(OpCodes.Stloc, offsets[k]);
            }

            il.Emit(OpCodes.Ldloc, j);
            il.Emit(OpCodes.Stloc, rem);
            for (int d = rank - 1; d >= outer; d--)
            {
                Unravel(il, d, d > outer, shapeAt, rem, c);
                for (int k = 0; k < n; k++) AddStride(il, offsets[k], c, OffsetArg(k) + 1 + d);
            }

            var ops = spec.ElementOps(pass);
            foreach (int b in ops) EmitOp(il, body, b, values, LoadInput);
            if (last)
            {
                // out[row · rowLength + j] = result
                il.Emit(OpCodes.Ldarg, (short)OutArg);
                il.Emit(OpCodes.Ldloc, row);
                il.Emit(OpCodes.Ldloc, rowLength);
                il.Emit(OpCodes.Mul);
                il.Emit(OpCodes.Ldloc, j);
                il.Emit(OpCodes.Add);
                il.Emit(OpCodes.Ldloc, values[^1]);
                il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(StoreName(spec.OutDType)));
            }
            else
            {
                foreach (int a in mine)
                {
                    il.Emit(OpCodes.Ldloc, values[a]);
                    il.Emit(OpCodes.Ldloc, values[body[a].Args[0]]);
                    il.Emit(OpCodes.Call, ElementwiseKernelEmitter.Math(OpFunction(ReductionSpec.Combine(body[a].Op))));
                    il.Emit(OpCodes.Stloc, values[a]);
                }
            }

            il.Emit(OpCodes.Ldloc, j);
            il.Emit(OpCodes.Ldloc, threads);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, j);
            il.Emit(OpCodes.Br, head);
            il.MarkLabel(exit);
            if (last) break;

            // The group folds each partial; every thread gets the row's value, rounded to the accumulator's dtype.
            foreach (int a in mine)
            {
                il.Emit(OpCodes.Ldloc, values[a]);
                il.Emit(OpCodes.Call, Fold(body[a].Op, shuffle));
                if (body[a].Op == Op.Mean)
                {
                    il.Emit(OpCodes.Ldloc, rowLength);
                    il.Emit(OpCodes.Conv_R4);
                    il.Emit(OpCodes.Div);
                }

                RoundTo(il, body[a].DType);
                il.Emit(OpCodes.Stloc, values[a]);
            }

            foreach (int b in spec.RowOps(pass)) EmitOp(il, body, b, values, LoadInput);
        }

        il.Emit(OpCodes.Ret);
    }

    /// <summary>c = rem % shape[d] and rem /= shape[d] (or c = rem for the last dim unravelled).</summary>
    private static void Unravel(ILGenerator il, int d, bool divide, int shapeAt, LocalBuilder rem, LocalBuilder c)
    {
        if (!divide)
        {
            il.Emit(OpCodes.Ldloc, rem);
            il.Emit(OpCodes.Stloc, c);
            return;
        }

        il.Emit(OpCodes.Ldloc, rem);
        il.Emit(OpCodes.Ldarg, (short)(shapeAt + d));
        il.Emit(OpCodes.Rem);
        il.Emit(OpCodes.Stloc, c);
        il.Emit(OpCodes.Ldloc, rem);
        il.Emit(OpCodes.Ldarg, (short)(shapeAt + d));
        il.Emit(OpCodes.Div);
        il.Emit(OpCodes.Stloc, rem);
    }

    /// <summary>offset += c · stride (the stride an argument).</summary>
    private static void AddStride(ILGenerator il, LocalBuilder offset, LocalBuilder c, int strideArg)
    {
        il.Emit(OpCodes.Ldloc, offset);
        il.Emit(OpCodes.Ldloc, c);
        il.Emit(OpCodes.Ldarg, (short)strideArg);
        il.Emit(OpCodes.Mul);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, offset);
    }
}
