using System.Reflection.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu.Lanes;
using static Candle.Compiler.Backends.Cpu.Emit.ElementwiseEmitter;

namespace Candle.Compiler.Backends.Cpu.Emit;

/// <summary>
/// What the IL emitters of generated reductions share: the kernel arguments (<c>outSlot, inSlot[n], shape[rank], then
/// per input offset, strides[rank]</c>), pointer walks over the collapsed index space, loads along the reduced row,
/// and one body op at a vector width or at width one, each through the same op definitions (operator structs' lanes
/// forms), so that vector bodies and scalar tails agree.
/// </summary>
internal abstract class ReductionIl
{
    protected readonly IlWriter _il;
    protected readonly Type _lanes;
    protected readonly Type _vecType;
    protected readonly Type _vectorIo;
    protected readonly int _width;
    protected readonly int _n;
    protected readonly int _rank;
    protected readonly int _p;
    protected readonly LocalBuilder[] _vec;
    protected readonly LocalBuilder[] _scl;

    protected ReductionIl(IlWriter il, IReadOnlyList<ElementwiseInput> inputs, IReadOnlyList<BodyOp> body, int outerRank, int rank, Type lanes)
    {
        _il = il;
        Inputs = inputs;
        Body = body;
        _lanes = lanes;
        _vecType = lanes.GetMethod("Splat")!.ReturnType;
        _vectorIo = typeof(SimdLanes<,>).MakeGenericType(lanes, _vecType);
        _width = (int)lanes.GetProperty("Count")!.GetValue(null)!;
        _n = inputs.Count;
        _rank = rank;
        _p = outerRank;
        _vec = body.Select((_, b) => il.Local(_vecType, $"v{b}")).ToArray();
        _scl = body.Select((_, b) => il.Local(typeof(float), $"s{b}")).ToArray();
    }

    /// <summary>The kernel's inputs.</summary>
    protected IReadOnlyList<ElementwiseInput> Inputs { get; }

    /// <summary>The kernel's linearized body.</summary>
    protected IReadOnlyList<BodyOp> Body { get; }

    protected int ShapeAt => 1 + _n;

    protected int OffsetAt(int k) => ShapeAt + _rank + (k * (1 + _rank));

    protected int StrideAt(int k, int d) => OffsetAt(k) + 1 + d;

    protected int Es(int k) => Inputs[k].DType.SizeInBytes();

    protected void Arg(int index)
    {
        _il.Op(OpCodes.Ldarg_1);
        _il.Int(index);
        _il.Op(OpCodes.Ldelem_I8);
    }

    protected void SlotPtr(int argIndex)
    {
        _il.Op(OpCodes.Ldarg_0);
        Arg(argIndex);
        _il.Op(OpCodes.Conv_I);
        _il.Op(OpCodes.Ldelem_I);
    }

    // (nint)(value * es) for an int64 value on the stack.
    protected void ScaleToBytes(int es)
    {
        if (es != 1)
        {
            _il.Int(es);
            _il.Op(OpCodes.Conv_I8);
            _il.Op(OpCodes.Mul);
        }

        _il.Op(OpCodes.Conv_I);
    }

    protected void Long(long v)
    {
        _il.Op(OpCodes.Ldc_I8, v);
    }

    /// <summary>
    /// Emits the set-up of a row-wise kernel: the output pointer, each input's pointer at its offset, and for inputs read
    /// with a strided inner dim the local holding that stride (left null for contiguous inputs).
    /// </summary>
    protected void BindRowInputs(LocalBuilder outPtr, LocalBuilder[] inPtr, LocalBuilder?[] stride)
    {
        BindPointers(outPtr, inPtr);
        for (int k = 0; k < _n; k++)
        {
            if (Inputs[k].Access == InnerAccess.Strided)
            {
                stride[k] = _il.Local(typeof(long), $"stride{k}");
                Arg(StrideAt(k, _rank - 1));
                _il.Op(OpCodes.Stloc, stride[k]!);
            }
        }
    }

    /// <summary>Emits the output pointer and each input's pointer at its offset.</summary>
    protected void BindPointers(LocalBuilder outPtr, LocalBuilder[] inPtr)
    {
        SlotPtr(0);
        _il.Op(OpCodes.Stloc, outPtr);
        for (int k = 0; k < _n; k++)
        {
            SlotPtr(1 + k);
            Arg(OffsetAt(k));
            ScaleToBytes(Es(k));
            _il.Op(OpCodes.Add);
            _il.Op(OpCodes.Stloc, inPtr[k]);
        }
    }

    /// <summary>Emits a stack buffer of one vector's lanes (floats) and returns the local holding its address.</summary>
    protected LocalBuilder LaneScratch()
    {
        var tmp = _il.Local(typeof(nint), "lanes");
        _il.Int(_width * sizeof(float));
        _il.Op(OpCodes.Conv_U);
        _il.Op(OpCodes.Localloc);
        _il.Op(OpCodes.Stloc, tmp);
        return tmp;
    }

    /// <summary>
    /// Emits the combine of a row's accumulators for <paramref name="op"/>: the vector accumulators pairwise (0 with 1,
    /// 2 with 3, then 0 with 2), then the lanes of the result folded in order into the scalar accumulator, which then
    /// holds the row's value (before any mean division).
    /// </summary>
    protected void CombineLanes(LocalBuilder[] accV, LocalBuilder accS, Op op, LocalBuilder scratch)
    {
        var vfold = MathMethod(ReductionSpec.Combine(op), _lanes, _vecType);
        for (int step = 1; step < accV.Length; step *= 2)
        {
            for (int u = 0; u + step < accV.Length; u += 2 * step)
            {
                _il.Op(OpCodes.Ldloc, accV[u]);
                _il.Op(OpCodes.Ldloc, accV[u + step]);
                _il.Call(vfold);
                _il.Op(OpCodes.Stloc, accV[u]);
            }
        }

        _il.Op(OpCodes.Ldloc, accV[0]);
        _il.Op(OpCodes.Ldloc, scratch);
        _il.Call(M(_vectorIo, "StoreF32"));
        var fold = MathMethod(ReductionSpec.Combine(op), typeof(Lanes1), typeof(float));
        for (int l = 0; l < _width; l++)
        {
            _il.Op(OpCodes.Ldloc, accS);
            _il.Op(OpCodes.Ldloc, scratch);
            if (l > 0)
            {
                _il.Int(l * sizeof(float));
                _il.Op(OpCodes.Add);
            }

            _il.Call(M(typeof(ScalarLanes), "LoadF32"));
            _il.Call(fold);
            _il.Op(OpCodes.Stloc, accS);
        }
    }

    /// <summary>The locals a walk over the reduced rows of one output row uses (<see cref="Sweep"/>).</summary>
    protected sealed record RowWalk(LocalBuilder[] BasePtr, LocalBuilder[] RowPtr, LocalBuilder Inner, LocalBuilder? ReducedRows, LocalBuilder Rr, LocalBuilder J, LocalBuilder Ju, LocalBuilder Rem, LocalBuilder Idx);

    /// <summary>
    /// Emits a walk over the reduced rows of one output row (one when the reduced rank is one): per reduced row the row
    /// pointers are set, <paramref name="atRowStart"/> runs, then the row's elements go through <paramref name="element"/>
    /// (vector?, index local, accumulator slot) — in blocks of <see cref="ReductionSpec.RowAccumulators"/> vectors while
    /// a block fits when <paramref name="unrolled"/>, then a vector at a time, then one element at a time.
    /// </summary>
    protected void Sweep(RowWalk w, string tag, Action<bool, LocalBuilder, int> element, bool unrolled, Action? atRowStart = null)
    {
        var rrLoop = _il.DefineLabel("REDUCED_ROW_" + tag);
        var vloop = _il.DefineLabel("VECTOR_" + tag);
        var tail = _il.DefineLabel("TAIL_" + tag);
        var next = _il.DefineLabel("REDUCED_NEXT_" + tag);
        var end = _il.DefineLabel("END_" + tag);
        Long(0);
        _il.Op(OpCodes.Stloc, w.Rr);
        _il.Mark(rrLoop);
        if (w.ReducedRows is not null)
        {
            _il.Op(OpCodes.Ldloc, w.Rr);
            _il.Op(OpCodes.Ldloc, w.ReducedRows);
            _il.Op(OpCodes.Bge, end);
            Unravel(w.RowPtr, w.BasePtr, w.Rr, _p, _rank - 2, w.Rem, w.Idx);
        }
        else
        {
            for (int k = 0; k < _n; k++)
            {
                _il.Op(OpCodes.Ldloc, w.BasePtr[k]);
                _il.Op(OpCodes.Stloc, w.RowPtr[k]);
            }
        }

        atRowStart?.Invoke();
        Long(0);
        _il.Op(OpCodes.Stloc, w.J);

        if (unrolled)
        {
            int block = _width * ReductionSpec.RowAccumulators;
            var uloop = _il.DefineLabel("UNROLLED_" + tag);
            _il.Mark(uloop);
            _il.Op(OpCodes.Ldloc, w.J);
            Long(block);
            _il.Op(OpCodes.Add);
            _il.Op(OpCodes.Ldloc, w.Inner);
            _il.Op(OpCodes.Bgt, vloop);
            for (int u = 0; u < ReductionSpec.RowAccumulators; u++)
            {
                _il.Op(OpCodes.Ldloc, w.J);
                Long(u * _width);
                _il.Op(OpCodes.Add);
                _il.Op(OpCodes.Stloc, w.Ju);
                element(true, w.Ju, u);
            }

            _il.Op(OpCodes.Ldloc, w.J);
            Long(block);
            _il.Op(OpCodes.Add);
            _il.Op(OpCodes.Stloc, w.J);
            _il.Op(OpCodes.Br, uloop);
        }

        _il.Mark(vloop);
        _il.Op(OpCodes.Ldloc, w.J);
        Long(_width);
        _il.Op(OpCodes.Add);
        _il.Op(OpCodes.Ldloc, w.Inner);
        _il.Op(OpCodes.Bgt, tail);
        element(true, w.J, 0);
        _il.Op(OpCodes.Ldloc, w.J);
        Long(_width);
        _il.Op(OpCodes.Add);
        _il.Op(OpCodes.Stloc, w.J);
        _il.Op(OpCodes.Br, vloop);

        _il.Mark(tail);
        _il.Op(OpCodes.Ldloc, w.J);
        _il.Op(OpCodes.Ldloc, w.Inner);
        _il.Op(OpCodes.Bge, next);
        element(false, w.J, 0);
        _il.Op(OpCodes.Ldloc, w.J);
        Long(1);
        _il.Op(OpCodes.Add);
        _il.Op(OpCodes.Stloc, w.J);
        _il.Op(OpCodes.Br, tail);

        _il.Mark(next);
        if (w.ReducedRows is not null)
        {
            _il.Op(OpCodes.Ldloc, w.Rr);
            Long(1);
            _il.Op(OpCodes.Add);
            _il.Op(OpCodes.Stloc, w.Rr);
            _il.Op(OpCodes.Br, rrLoop);
        }

        _il.Mark(end);
    }

    protected LocalBuilder[] Pointers(string name) => Enumerable.Range(0, _n).Select(k => _il.Local(typeof(nint), $"{name}{k}")).ToArray();

    // dst[k] = src[k] + idx * stride(k, d) * es(k), idx on the stack as int64 (consumed).
    protected void AdvanceAll(LocalBuilder[] dst, LocalBuilder[] src, LocalBuilder idx, int d)
    {
        for (int k = 0; k < _n; k++)
        {
            _il.Op(OpCodes.Ldloc, src[k]);
            _il.Op(OpCodes.Ldloc, idx);
            Arg(StrideAt(k, d));
            _il.Op(OpCodes.Mul);
            ScaleToBytes(Es(k));
            _il.Op(OpCodes.Add);
            _il.Op(OpCodes.Stloc, dst[k]);
        }
    }

    // dst = src + unravel(flat over dims last..first) (first's index is what remains).
    protected void Unravel(LocalBuilder[] dst, LocalBuilder[] src, LocalBuilder flat, int first, int last, LocalBuilder rem, LocalBuilder idx)
    {
        for (int k = 0; k < _n; k++)
        {
            _il.Op(OpCodes.Ldloc, src[k]);
            _il.Op(OpCodes.Stloc, dst[k]);
        }

        _il.Op(OpCodes.Ldloc, flat);
        _il.Op(OpCodes.Stloc, rem);
        for (int d = last; d >= first; d--)
        {
            if (d == first)
            {
                _il.Op(OpCodes.Ldloc, rem);
                _il.Op(OpCodes.Stloc, idx);
            }
            else
            {
                _il.Op(OpCodes.Ldloc, rem);
                Arg(ShapeAt + d);
                _il.Op(OpCodes.Rem);
                _il.Op(OpCodes.Stloc, idx);
                _il.Op(OpCodes.Ldloc, rem);
                Arg(ShapeAt + d);
                _il.Op(OpCodes.Div);
                _il.Op(OpCodes.Stloc, rem);
            }

            AdvanceAll(dst, dst, idx, d);
        }
    }

    // The product of shape[first..last] as int64 into a new local.
    protected LocalBuilder Product(string name, int first, int last)
    {
        var l = _il.Local(typeof(long), name);
        Long(1);
        for (int d = first; d <= last; d++)
        {
            Arg(ShapeAt + d);
            _il.Op(OpCodes.Mul);
        }

        _il.Op(OpCodes.Stloc, l);
        return l;
    }

    // The product of shape[first..last] as float32 (a mean's count) into a new local.
    protected LocalBuilder CountOf(int first, int last)
    {
        var c = _il.Local(typeof(float), "count");
        Long(1);
        for (int d = first; d <= last; d++)
        {
            Arg(ShapeAt + d);
            _il.Op(OpCodes.Mul);
        }

        _il.Op(OpCodes.Conv_R4);
        _il.Op(OpCodes.Stloc, c);
        return c;
    }

    // Rows: a producer input read at rowPtr + j * stride (vector: contiguous load, broadcast splat or gather).
    protected void RowLoad(int k, LocalBuilder[] rowPtr, LocalBuilder j, LocalBuilder?[] stride, bool vector)
    {
        var input = Inputs[k];
        string suffix = Suffix(input.DType);
        _il.Op(OpCodes.Ldloc, rowPtr[k]);
        if (input.Access == InnerAccess.Broadcast)
        {
            _il.Call(M(typeof(ScalarLanes), "Load" + suffix));
            if (vector) _il.Call(M(_vectorIo, "Splat"));
            return;
        }

        _il.Op(OpCodes.Ldloc, j);
        if (input.Access == InnerAccess.Strided)
        {
            _il.Op(OpCodes.Ldloc, stride[k]!);
            _il.Op(OpCodes.Mul);
        }

        ScaleToBytes(Es(k));
        _il.Op(OpCodes.Add);
        if (vector && input.Access == InnerAccess.Strided)
        {
            _il.Op(OpCodes.Ldloc, stride[k]!);
            _il.Call(M(_vectorIo, "Gather" + suffix));
        }
        else
        {
            _il.Call(M(vector ? _vectorIo : typeof(ScalarLanes), "Load" + suffix));
        }
    }

    protected void ScalarAt(LocalBuilder p, int k)
    {
        _il.Op(OpCodes.Ldloc, p);
        _il.Call(M(typeof(ScalarLanes), "Load" + Suffix(Inputs[k].DType)));
    }

    protected void EmitOp(int b, bool vector, Action<int> load)
    {
        var L = vector ? _vectorIo : typeof(ScalarLanes);
        var vals = vector ? _vec : _scl;
        var op = Body[b];
        switch (op.Op)
        {
            case Op.Input:
                load(op.Input);
                break;
            case Op.Full:
                _il.Op(OpCodes.Ldc_R4, (float)op.Constant);
                if (vector) _il.Call(M(L, "Splat"));
                break;
            case Op.Cast:
                _il.Op(OpCodes.Ldloc, vals[op.Args[0]]);
                Round(L, op.DType, castFromOther: true);
                break;
            default:
                if (ReductionSpec.IsAccumulator(op.Op)) throw new ArgumentException($"body op {b} ({op.Op.Name()}) is a second accumulator");
                foreach (int a in op.Args) _il.Op(OpCodes.Ldloc, vals[a]);
                _il.Call(op.Op == Op.Where ? M(L, "Where") : MathMethod(op.Op, vector ? _lanes : typeof(Lanes1), vector ? _vecType : typeof(float)));
                if (op.DType == DType.Bool && op.Op == Op.Add) _il.Call(M(L, "ToBool"));
                else Round(L, op.DType, castFromOther: false);
                break;
        }

        _il.Op(OpCodes.Stloc, vals[b]);
    }

    protected void Round(Type L, DType dt, bool castFromOther)
    {
        switch (dt)
        {
            case DType.F16: _il.Call(M(L, "RoundF16")); break;
            case DType.BF16: _il.Call(M(L, "RoundBF16")); break;
            case DType.Bool when castFromOther: _il.Call(M(L, "ToBool")); break;
        }
    }
}
