using System.Reflection.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu.Lanes;
using static Candle.Compiler.Backends.Cpu.Emit.ElementwiseEmitter;

namespace Candle.Compiler.Backends.Cpu.Emit;

/// <summary>
/// Emits a generated reduction (<see cref="ReductionSpec"/>) as IL. Work items are outputs. Along rows
/// (<see cref="ReductionStrategy.Rows"/>): per output, the outer index is unraveled once, the producer runs over each
/// reduced row in a vector loop (Vector512, Vector256 or Vector128 lanes) into a vector accumulator and a scalar tail
/// into a scalar one, the lanes are combined into the scalar, then the consumer runs once. Along columns
/// (<see cref="ReductionStrategy.Columns"/>): the outputs of a row of the innermost outer dim are taken a vector at a
/// time, each lane accumulating over the whole reduced space, the consumer runs on the vector and stores it; a scalar
/// tail does the same one output at a time. The accumulator folds with its op's operator struct (add, mul, maximum,
/// minimum) at every width, so vector body, tail and combine agree; a mean divides the sum by the reduced count.
/// </summary>
internal sealed class ReductionEmitter : ReductionIl
{
    private readonly ReductionSpec _spec;

    private ReductionEmitter(IlWriter il, ReductionSpec spec, Type lanes)
        : base(il, spec.Inputs, spec.Body, spec.OuterRank, spec.Rank, lanes)
    {
        _spec = spec;
    }

    public static void Emit(IlWriter il, ReductionSpec spec, Type lanes)
    {
        if (spec.OuterRank < 1 || spec.ReducedRank < 1) throw new ArgumentException("a reduction has at least one outer and one reduced dim", nameof(spec));
        var e = new ReductionEmitter(il, spec, lanes);
        if (spec.Strategy == ReductionStrategy.Rows) e.EmitRows();
        else e.EmitColumns();
    }

    private Op AccOp => _spec.Accumulator;

    private void EmitRows()
    {
        var il = _il;
        int q = _spec.ReducedRank;
        var outPtr = il.Local(typeof(nint), "out");
        var inPtr = Pointers("in");
        var basePtr = Pointers("base");
        var rowPtr = Pointers("row");
        var stride = new LocalBuilder?[_n];
        var inner = il.Local(typeof(long), "inner");
        var i = il.Local(typeof(long), "i");
        var j = il.Local(typeof(long), "j");
        var rr = il.Local(typeof(long), "rr");
        var rem = il.Local(typeof(long), "rem");
        var idx = il.Local(typeof(long), "idx");
        var ju = il.Local(typeof(long), "ju");
        var accV = Enumerable.Range(0, ReductionSpec.RowAccumulators).Select(u => il.Local(_vecType, $"accV{u}")).ToArray();
        var accS = il.Local(typeof(float), "accS");

        BindRowInputs(outPtr, inPtr, stride);

        Arg(ShapeAt + _rank - 1);
        il.Op(OpCodes.Stloc, inner);
        var reducedRows = q > 1 ? Product("reducedRows", _p, _rank - 2) : null;
        var count = AccOp == Op.Mean ? CountOf(_p, _rank - 1) : null;
        var tmp = LaneScratch();
        il.Op(OpCodes.Ldarg_2);
        il.Op(OpCodes.Stloc, i);

        var loop = il.DefineLabel("ROW");
        var done = il.DefineLabel("DONE");

        il.Mark(loop);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Ldarg_3);
        il.Op(OpCodes.Bge, done);
        Unravel(basePtr, inPtr, i, 0, _p - 1, rem, idx);
        il.Op(OpCodes.Ldc_R4, ReductionSpec.Identity(AccOp));
        il.Op(OpCodes.Stloc, accS);
        foreach (var a in accV)
        {
            il.Op(OpCodes.Ldc_R4, ReductionSpec.Identity(AccOp));
            il.Call(M(_vectorIo, "Splat"));
            il.Op(OpCodes.Stloc, a);
        }

        Sweep(
            new RowWalk(basePtr, rowPtr, inner, reducedRows, rr, j, ju, rem, idx),
            "R",
            (vector, at, u) =>
            {
                Producer(vector, k => RowLoad(k, rowPtr, at, stride, vector));
                Fold(vector ? accV[u] : accS, vector);
            },
            unrolled: true);

        // The vector accumulators pairwise, then lane by lane into the scalar accumulator.
        CombineLanes(accV, accS, AccOp, tmp);

        Finish(accS, count, vector: false);
        Consumer(vector: false, k => ScalarAt(basePtr[k], k));

        // out[i] = result
        il.Op(OpCodes.Ldloc, _scl[^1]);
        il.Op(OpCodes.Ldloc, outPtr);
        il.Op(OpCodes.Ldloc, i);
        ScaleToBytes(_spec.OutDType.SizeInBytes());
        il.Op(OpCodes.Add);
        il.Call(M(typeof(ScalarLanes), "Store" + Suffix(_spec.OutDType)));
        il.Op(OpCodes.Ldloc, i);
        Long(1);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, i);
        il.Op(OpCodes.Br, loop);
        il.Mark(done);
        il.Op(OpCodes.Ret);
    }

    private void EmitColumns()
    {
        var il = _il;
        int q = _spec.ReducedRank;
        int outEs = _spec.OutDType.SizeInBytes();
        var outPtr = il.Local(typeof(nint), "out");
        var inPtr = Pointers("in");
        var basePtr = Pointers("base");
        var colPtr = Pointers("col");
        var ptr = Pointers("at");
        var ostride = Enumerable.Range(0, _n).Select(k => il.Local(typeof(long), $"ostride{k}")).ToArray();
        var rstep = q == 1 ? Pointers("step") : null;
        var innerO = il.Local(typeof(long), "inner");
        var i = il.Local(typeof(long), "i");
        var row = il.Local(typeof(long), "row");
        var col = il.Local(typeof(long), "col");
        var cnt = il.Local(typeof(long), "n");
        var j = il.Local(typeof(long), "j");
        var rr = il.Local(typeof(long), "rr");
        var rem = il.Local(typeof(long), "rem");
        var idx = il.Local(typeof(long), "idx");
        var ob = il.Local(typeof(nint), "outRow");
        var accV = il.Local(_vecType, "accV");
        var accS = il.Local(typeof(float), "accS");

        BindPointers(outPtr, inPtr);
        for (int k = 0; k < _n; k++)
        {
            Arg(StrideAt(k, _p - 1));
            il.Op(OpCodes.Stloc, ostride[k]);
            if (rstep is not null)
            {
                Arg(StrideAt(k, _p));
                ScaleToBytes(Es(k));
                il.Op(OpCodes.Stloc, rstep[k]);
            }
        }

        Arg(ShapeAt + _p - 1);
        il.Op(OpCodes.Stloc, innerO);
        var total = Product("reduced", _p, _rank - 1);
        var count = AccOp == Op.Mean ? CountOf(_p, _rank - 1) : null;
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

        SplitChunk(il, i, innerO, row, col, cnt);

        if (_p > 1)
        {
            Unravel(basePtr, inPtr, row, 0, _p - 2, rem, idx);
        }
        else
        {
            for (int k = 0; k < _n; k++)
            {
                il.Op(OpCodes.Ldloc, inPtr[k]);
                il.Op(OpCodes.Stloc, basePtr[k]);
            }
        }

        AdvanceAll(basePtr, basePtr, col, _p - 1);
        il.Op(OpCodes.Ldloc, outPtr);
        il.Op(OpCodes.Ldloc, i);
        ScaleToBytes(outEs);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, ob);
        Long(0);
        il.Op(OpCodes.Stloc, j);

        il.Mark(vloop);
        il.Op(OpCodes.Ldloc, j);
        Long(_width);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Ldloc, cnt);
        il.Op(OpCodes.Bgt, tail);
        Column(vector: true);
        il.Op(OpCodes.Ldloc, j);
        Long(_width);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, j);
        il.Op(OpCodes.Br, vloop);

        il.Mark(tail);
        il.Op(OpCodes.Ldloc, j);
        il.Op(OpCodes.Ldloc, cnt);
        il.Op(OpCodes.Bge, next);
        Column(vector: false);
        il.Op(OpCodes.Ldloc, j);
        Long(1);
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

        // One vector (or one element) of outputs: accumulate over the whole reduced space, then the consumer.
        void Column(bool vector)
        {
            string w = vector ? "V" : "S";
            var acc = vector ? accV : accS;
            AdvanceAll(colPtr, basePtr, j, _p - 1);
            il.Op(OpCodes.Ldc_R4, ReductionSpec.Identity(AccOp));
            if (vector) il.Call(M(_vectorIo, "Splat"));
            il.Op(OpCodes.Stloc, acc);
            Long(0);
            il.Op(OpCodes.Stloc, rr);
            if (q == 1)
            {
                for (int k = 0; k < _n; k++)
                {
                    il.Op(OpCodes.Ldloc, colPtr[k]);
                    il.Op(OpCodes.Stloc, ptr[k]);
                }
            }

            var red = il.DefineLabel("REDUCED_" + w);
            var end = il.DefineLabel("REDUCED_END_" + w);
            il.Mark(red);
            il.Op(OpCodes.Ldloc, rr);
            il.Op(OpCodes.Ldloc, total);
            il.Op(OpCodes.Bge, end);
            if (q > 1) Unravel(ptr, colPtr, rr, _p, _rank - 1, rem, idx);
            Producer(vector, k => ColumnLoad(k, ptr[k], ostride[k], vector));
            Fold(acc, vector);
            if (q == 1)
            {
                for (int k = 0; k < _n; k++)
                {
                    il.Op(OpCodes.Ldloc, ptr[k]);
                    il.Op(OpCodes.Ldloc, rstep![k]);
                    il.Op(OpCodes.Add);
                    il.Op(OpCodes.Stloc, ptr[k]);
                }
            }

            il.Op(OpCodes.Ldloc, rr);
            Long(1);
            il.Op(OpCodes.Add);
            il.Op(OpCodes.Stloc, rr);
            il.Op(OpCodes.Br, red);
            il.Mark(end);

            Finish(acc, count, vector);
            Consumer(vector, k => ColumnLoad(k, colPtr[k], ostride[k], vector));
            il.Op(OpCodes.Ldloc, vector ? _vec[^1] : _scl[^1]);
            il.Op(OpCodes.Ldloc, ob);
            il.Op(OpCodes.Ldloc, j);
            ScaleToBytes(outEs);
            il.Op(OpCodes.Add);
            il.Call(M(vector ? _vectorIo : typeof(ScalarLanes), "Store" + Suffix(_spec.OutDType)));
        }
    }

    // Columns: an input read at p, its lanes along the outer axis (contiguous load, broadcast splat or gather).
    private void ColumnLoad(int k, LocalBuilder p, LocalBuilder ostride, bool vector)
    {
        var input = _spec.Inputs[k];
        string suffix = Suffix(input.DType);
        _il.Op(OpCodes.Ldloc, p);
        if (!vector)
        {
            _il.Call(M(typeof(ScalarLanes), "Load" + suffix));
        }
        else if (input.Access == InnerAccess.Broadcast)
        {
            _il.Call(M(typeof(ScalarLanes), "Load" + suffix));
            _il.Call(M(_vectorIo, "Splat"));
        }
        else if (input.Access == InnerAccess.Strided)
        {
            _il.Op(OpCodes.Ldloc, ostride);
            _il.Call(M(_vectorIo, "Gather" + suffix));
        }
        else
        {
            _il.Call(M(_vectorIo, "Load" + suffix));
        }
    }

    private void Producer(bool vector, Action<int> load)
    {
        for (int b = 0; b < _spec.ReduceAt; b++) EmitOp(b, vector, load);
    }

    private void Consumer(bool vector, Action<int> load)
    {
        // Constants the consumer shares with the producer are evaluated again at the consumer's width.
        var body = _spec.Body;
        for (int b = 0; b < _spec.ReduceAt; b++)
        {
            if (body[b].Op == Op.Full && body.Skip(_spec.ReduceAt + 1).Any(o => o.Args.Contains(b))) EmitOp(b, vector, load);
        }

        for (int b = _spec.ReduceAt + 1; b < body.Count; b++) EmitOp(b, vector, load);
    }

    // acc = combine(acc, value fed to the accumulator)
    private void Fold(LocalBuilder acc, bool vector)
    {
        int value = _spec.Body[_spec.ReduceAt].Args[0];
        _il.Op(OpCodes.Ldloc, acc);
        _il.Op(OpCodes.Ldloc, vector ? _vec[value] : _scl[value]);
        _il.Call(MathMethod(ReductionSpec.Combine(AccOp), vector ? _lanes : typeof(Lanes1), vector ? _vecType : typeof(float)));
        _il.Op(OpCodes.Stloc, acc);
    }

    // The accumulator's value (a mean divided by the count), rounded to its dtype, as body op ReduceAt.
    private void Finish(LocalBuilder acc, LocalBuilder? count, bool vector)
    {
        var L = vector ? _vectorIo : typeof(ScalarLanes);
        _il.Op(OpCodes.Ldloc, acc);
        if (count is not null)
        {
            _il.Op(OpCodes.Ldloc, count);
            if (vector) _il.Call(M(_vectorIo, "Splat"));
            _il.Call(MathMethod(Op.Div, vector ? _lanes : typeof(Lanes1), vector ? _vecType : typeof(float)));
        }

        Round(L, _spec.Body[_spec.ReduceAt].DType, castFromOther: false);
        _il.Op(OpCodes.Stloc, vector ? _vec[_spec.ReduceAt] : _scl[_spec.ReduceAt]);
    }

}
