using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Intrinsics;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Compiler.Backends.Cpu.Emit;

/// <summary>
/// Emits a generated elementwise kernel as IL: the output range is walked row by row over the innermost collapsed
/// dimension (every output of a multi-output kernel is dense over it and stored at each element after the body); each row runs a vector loop (Vector512, Vector256 or Vector128 lanes) and a scalar tail. Inputs are
/// read contiguously, broadcast or through a run-time stride; outer dimensions are unraveled once per row.
/// f16/bf16/bool are converted to f32 on load and back on store. Loads, stores and roundings are
/// <see cref="SimdLanes{TLanes, TVec}"/>'s (vector) and <see cref="ScalarLanes"/>'s (tail); each op is its operator
/// struct's lanes form instantiated for the width trait (vector) or <see cref="Lanes1"/> (tail).
/// </summary>
internal static class ElementwiseEmitter
{
    /// <summary>The lane-width trait (<see cref="ILanes{TVec}"/>) for a vector width in bits (0 picks the widest accelerated width).</summary>
    public static Type LanesFor(int vectorBits)
    {
        if (vectorBits == 0)
        {
            vectorBits = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;
        }

        return vectorBits switch
        {
            512 => typeof(Lanes512),
            256 => typeof(Lanes256),
            128 => typeof(Lanes128),
            _ => throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vector width must be 0, 128, 256 or 512 bits"),
        };
    }

    public static void Emit(IlWriter il, ElementwiseSpec spec, Type lanes)
    {
        var scalar = typeof(ScalarLanes);
        Type vecType = lanes.GetMethod("Splat")!.ReturnType;
        var vectorIo = typeof(SimdLanes<,>).MakeGenericType(lanes, vecType);
        int width = (int)lanes.GetProperty("Count")!.GetValue(null)!;
        int n = spec.Inputs.Count, rank = spec.Rank;
        int shapeAt = 1 + n;
        int InputOffsetAt(int k) => shapeAt + rank + (k * (1 + rank));
        int InputStrideAt(int k, int d) => InputOffsetAt(k) + 1 + d;
        int outEs = spec.OutDType.SizeInBytes();
        int storesAt = InputOffsetAt(n);
        int m = spec.Stores.Count;

        var outPtr = il.Local(typeof(nint), "out");
        var storePtr = new LocalBuilder[m];
        var storeRow = new LocalBuilder[m];
        for (int k = 0; k < m; k++)
        {
            storePtr[k] = il.Local(typeof(nint), $"out{k + 1}");
            storeRow[k] = il.Local(typeof(nint), $"outRow{k + 1}");
        }

        var inPtr = new LocalBuilder[n];
        var rowPtr = new LocalBuilder[n];
        var stride = new LocalBuilder?[n];
        for (int k = 0; k < n; k++)
        {
            inPtr[k] = il.Local(typeof(nint), $"in{k}");
            rowPtr[k] = il.Local(typeof(nint), $"row{k}");
            if (spec.Inputs[k].Access == InnerAccess.Strided) stride[k] = il.Local(typeof(long), $"stride{k}");
        }

        var inner = il.Local(typeof(long), "inner");
        var i = il.Local(typeof(long), "i");
        var row = il.Local(typeof(long), "row");
        var col = il.Local(typeof(long), "col");
        var cnt = il.Local(typeof(long), "n");
        var rem = rank > 1 ? il.Local(typeof(long), "rem") : null;
        var idx = rank > 1 ? il.Local(typeof(long), "idx") : null;
        var ob = il.Local(typeof(nint), "outRow");
        var j = il.Local(typeof(long), "j");
        var vecVals = spec.Body.Select((_, b) => il.Local(vecType, $"v{b}")).ToArray();
        var sclVals = spec.Body.Select((_, b) => il.Local(typeof(float), $"s{b}")).ToArray();

        void Arg(int index)
        {
            il.Op(OpCodes.Ldarg_1);
            il.Int(index);
            il.Op(OpCodes.Ldelem_I8);
        }

        void SlotPtr(int argIndex)
        {
            il.Op(OpCodes.Ldarg_0);
            Arg(argIndex);
            il.Op(OpCodes.Conv_I);
            il.Op(OpCodes.Ldelem_I);
        }

        // Pushes (nint)(value * elementSize) where value is on the stack as int64.
        void ScaleToBytes(int es)
        {
            if (es != 1)
            {
                il.Int(es);
                il.Op(OpCodes.Conv_I8);
                il.Op(OpCodes.Mul);
            }

            il.Op(OpCodes.Conv_I);
        }

        // out = slots[args[0]]; in_k = slots[args[1+k]] + offset_k * es_k
        SlotPtr(0);
        il.Op(OpCodes.Stloc, outPtr);
        for (int k = 0; k < m; k++)
        {
            SlotPtr(storesAt + k);
            il.Op(OpCodes.Stloc, storePtr[k]);
        }
        for (int k = 0; k < n; k++)
        {
            SlotPtr(1 + k);
            Arg(InputOffsetAt(k));
            ScaleToBytes(spec.Inputs[k].DType.SizeInBytes());
            il.Op(OpCodes.Add);
            il.Op(OpCodes.Stloc, inPtr[k]);
            if (stride[k] is { } s)
            {
                Arg(InputStrideAt(k, rank - 1));
                il.Op(OpCodes.Stloc, s);
            }
        }

        Arg(shapeAt + rank - 1);
        il.Op(OpCodes.Stloc, inner);
        il.Op(OpCodes.Ldarg_2);
        il.Op(OpCodes.Stloc, i);

        var loop = il.DefineLabel("ROW");
        var done = il.DefineLabel("DONE");
        var vloop = il.DefineLabel("VECTOR");
        var tail = il.DefineLabel("TAIL");
        var next = il.DefineLabel("NEXT");

        il.Mark(loop);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Ldarg_3);
        il.Op(OpCodes.Bge, done);

        SplitChunk(il, i, inner, row, col, cnt);

        for (int k = 0; k < n; k++)
        {
            il.Op(OpCodes.Ldloc, inPtr[k]);
            il.Op(OpCodes.Stloc, rowPtr[k]);
        }

        if (rank > 1)
        {
            il.Op(OpCodes.Ldloc, row);
            il.Op(OpCodes.Stloc, rem!);
            for (int d = rank - 2; d >= 0; d--)
            {
                il.Op(OpCodes.Ldloc, rem!);
                Arg(shapeAt + d);
                il.Op(OpCodes.Rem);
                il.Op(OpCodes.Stloc, idx!);
                il.Op(OpCodes.Ldloc, rem!);
                Arg(shapeAt + d);
                il.Op(OpCodes.Div);
                il.Op(OpCodes.Stloc, rem!);
                for (int k = 0; k < n; k++)
                {
                    il.Op(OpCodes.Ldloc, rowPtr[k]);
                    il.Op(OpCodes.Ldloc, idx!);
                    Arg(InputStrideAt(k, d));
                    il.Op(OpCodes.Mul);
                    ScaleToBytes(spec.Inputs[k].DType.SizeInBytes());
                    il.Op(OpCodes.Add);
                    il.Op(OpCodes.Stloc, rowPtr[k]);
                }
            }
        }

        for (int k = 0; k < n; k++)
        {
            var access = spec.Inputs[k].Access;
            if (access == InnerAccess.Broadcast) continue;
            il.Op(OpCodes.Ldloc, rowPtr[k]);
            il.Op(OpCodes.Ldloc, col);
            if (access == InnerAccess.Strided)
            {
                il.Op(OpCodes.Ldloc, stride[k]!);
                il.Op(OpCodes.Mul);
            }

            ScaleToBytes(spec.Inputs[k].DType.SizeInBytes());
            il.Op(OpCodes.Add);
            il.Op(OpCodes.Stloc, rowPtr[k]);
        }

        // outRow = out + i * outEs; j = 0
        il.Op(OpCodes.Ldloc, outPtr);
        il.Op(OpCodes.Ldloc, i);
        ScaleToBytes(outEs);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, ob);
        for (int k = 0; k < m; k++)
        {
            il.Op(OpCodes.Ldloc, storePtr[k]);
            il.Op(OpCodes.Ldloc, i);
            ScaleToBytes(spec.Stores[k].DType.SizeInBytes());
            il.Op(OpCodes.Add);
            il.Op(OpCodes.Stloc, storeRow[k]);
        }

        il.Op(OpCodes.Ldc_I4_0);
        il.Op(OpCodes.Conv_I8);
        il.Op(OpCodes.Stloc, j);

        // Vector loop: while (j + W <= n)
        il.Mark(vloop);
        il.Op(OpCodes.Ldloc, j);
        il.Int(width);
        il.Op(OpCodes.Conv_I8);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Ldloc, cnt);
        il.Op(OpCodes.Bgt, tail);
        EmitBody(vector: true);
        il.Op(OpCodes.Ldloc, j);
        il.Int(width);
        il.Op(OpCodes.Conv_I8);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, j);
        il.Op(OpCodes.Br, vloop);

        // Scalar tail: while (j < n)
        il.Mark(tail);
        il.Op(OpCodes.Ldloc, j);
        il.Op(OpCodes.Ldloc, cnt);
        il.Op(OpCodes.Bge, next);
        EmitBody(vector: false);
        il.Op(OpCodes.Ldloc, j);
        il.Op(OpCodes.Ldc_I4_1);
        il.Op(OpCodes.Conv_I8);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, j);
        il.Op(OpCodes.Br, tail);

        il.Mark(next);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Ldloc, cnt);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, i);
        il.Op(OpCodes.Br, loop);
        il.Mark(done);
        il.Op(OpCodes.Ret);

        void EmitBody(bool vector)
        {
            var L = vector ? vectorIo : scalar;
            var vals = vector ? vecVals : sclVals;
            for (int b = 0; b < spec.Body.Count; b++)
            {
                var op = spec.Body[b];
                switch (op.Op)
                {
                    case Op.Input:
                        EmitLoad(op.Input, vector);
                        break;
                    case Op.Full:
                        il.Op(OpCodes.Ldc_R4, (float)op.Constant);
                        if (vector) il.Call(M(L, "Splat"));
                        break;
                    case Op.Cast:
                        il.Op(OpCodes.Ldloc, vals[op.Args[0]]);
                        EmitRounding(L, op.DType, castFromOther: true);
                        break;
                    default:
                        foreach (int a in op.Args) il.Op(OpCodes.Ldloc, vals[a]);
                        il.Call(op.Op == Op.Where ? M(L, "Where") : MathMethod(op.Op, vector ? lanes : typeof(Lanes1), vector ? vecType : typeof(float)));
                        if (op.DType == DType.Bool && op.Op == Op.Add) il.Call(M(L, "ToBool"));
                        else EmitRounding(L, op.DType, castFromOther: false);
                        break;
                }

                il.Op(OpCodes.Stloc, vals[b]);
            }

            // Store the last value at outRow + j * outEs, then each further output's value likewise.
            il.Op(OpCodes.Ldloc, vals[^1]);
            il.Op(OpCodes.Ldloc, ob);
            il.Op(OpCodes.Ldloc, j);
            ScaleToBytes(outEs);
            il.Op(OpCodes.Add);
            il.Call(M(L, "Store" + Suffix(spec.OutDType)));
            for (int k = 0; k < m; k++)
            {
                var store = spec.Stores[k];
                il.Op(OpCodes.Ldloc, vals[store.Op]);
                il.Op(OpCodes.Ldloc, storeRow[k]);
                il.Op(OpCodes.Ldloc, j);
                ScaleToBytes(store.DType.SizeInBytes());
                il.Op(OpCodes.Add);
                il.Call(M(L, "Store" + Suffix(store.DType)));
            }
        }

        void EmitLoad(int k, bool vector)
        {
            var input = spec.Inputs[k];
            int es = input.DType.SizeInBytes();
            string suffix = Suffix(input.DType);
            il.Op(OpCodes.Ldloc, rowPtr[k]);
            if (input.Access == InnerAccess.Broadcast)
            {
                il.Call(M(scalar, "Load" + suffix));
                if (vector) il.Call(M(vectorIo, "Splat"));
                return;
            }

            il.Op(OpCodes.Ldloc, j);
            if (input.Access == InnerAccess.Strided)
            {
                il.Op(OpCodes.Ldloc, stride[k]!);
                il.Op(OpCodes.Mul);
            }

            ScaleToBytes(es);
            il.Op(OpCodes.Add);
            if (vector && input.Access == InnerAccess.Strided)
            {
                il.Op(OpCodes.Ldloc, stride[k]!);
                il.Call(M(vectorIo, "Gather" + suffix));
            }
            else
            {
                il.Call(M(vector ? vectorIo : scalar, "Load" + suffix));
            }
        }

        void EmitRounding(Type L, DType dt, bool castFromOther)
        {
            switch (dt)
            {
                case DType.F16: il.Call(M(L, "RoundF16")); break;
                case DType.BF16: il.Call(M(L, "RoundBF16")); break;
                case DType.Bool when castFromOther: il.Call(M(L, "ToBool")); break;
            }
        }
    }

    /// <summary>
    /// Emits the split of work item <paramref name="i"/> (int64 locals throughout) into the row it lies in and its column,
    /// <c>row = i / inner; col = i - row * inner</c>, and the count of items left in that row within the chunk,
    /// <c>n = min(inner - col, end - i)</c>, where <c>end</c> is the kernel's fourth argument.
    /// </summary>
    internal static void SplitChunk(IlWriter il, LocalBuilder i, LocalBuilder inner, LocalBuilder row, LocalBuilder col, LocalBuilder cnt)
    {
        var keepN = il.DefineLabel("KEEP_N");
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Ldloc, inner);
        il.Op(OpCodes.Div);
        il.Op(OpCodes.Stloc, row);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Ldloc, row);
        il.Op(OpCodes.Ldloc, inner);
        il.Op(OpCodes.Mul);
        il.Op(OpCodes.Sub);
        il.Op(OpCodes.Stloc, col);
        il.Op(OpCodes.Ldloc, inner);
        il.Op(OpCodes.Ldloc, col);
        il.Op(OpCodes.Sub);
        il.Op(OpCodes.Stloc, cnt);
        il.Op(OpCodes.Ldarg_3);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Sub);
        il.Op(OpCodes.Ldloc, cnt);
        il.Op(OpCodes.Bge, keepN);
        il.Op(OpCodes.Ldarg_3);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Sub);
        il.Op(OpCodes.Stloc, cnt);
        il.Mark(keepN);
    }

    internal static string Suffix(DType dt) => dt switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.Bool => "Bool",
        _ => throw new NotSupportedException($"generated elementwise kernels do not handle {dt.TorchName()}"),
    };

    /// <summary>The lanes form of an elementwise op's operator struct, instantiated for a width: <c>TOp.Invoke&lt;TLanes, TVec&gt;</c>.</summary>
    internal static MethodInfo MathMethod(Op op, Type lanes, Type vecType) =>
        op.Elementwise().Type.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == "Invoke" && m.IsGenericMethodDefinition)
            .MakeGenericMethod(lanes, vecType);

    internal static MethodInfo M(Type t, string name) =>
        t.GetMethod(name, BindingFlags.Public | BindingFlags.Static) ?? throw new MissingMethodException(t.Name, name);
}
