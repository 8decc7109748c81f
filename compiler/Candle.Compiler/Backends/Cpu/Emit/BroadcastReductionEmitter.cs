using System.Reflection.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu.Lanes;
using static Candle.Compiler.Backends.Cpu.Emit.ElementwiseEmitter;

namespace Candle.Compiler.Backends.Cpu.Emit;

/// <summary>
/// Emits a generated row reduction with a broadcast consumer (<see cref="BroadcastReductionSpec"/>) as IL. Work items
/// are rows: per row, the outer index is unraveled once, then each reduction pass walks the row in a vector loop
/// (Vector512, Vector256 or Vector128 lanes; four vector accumulators per accumulator op in turn while a block of four
/// vectors fits, one after) and a scalar tail, combines the accumulators as <see cref="ReductionEmitter"/> does (pairwise,
/// then lane by lane into the tail's) and computes the row values that depend on them once, in scalar, splatting them
/// for the vector loops; the last pass evaluates the result at every element (vector loop and scalar tail) and stores
/// it; an element op both passes need (<see cref="BroadcastReductionSpec.Stash"/>, such as softmax's exp) is stored in
/// the output row by the last reduction pass and loaded back instead of computed again. Every op goes through the same
/// operator structs at every width, so vector bodies and tails agree.
/// </summary>
internal sealed class BroadcastReductionEmitter : ReductionIl
{
    private readonly BroadcastReductionSpec _spec;

    private BroadcastReductionEmitter(IlWriter il, BroadcastReductionSpec spec, Type lanes)
        : base(il, spec.Inputs, spec.Body, spec.OuterRank, spec.Rank, lanes)
    {
        _spec = spec;
    }

    public static void Emit(IlWriter il, BroadcastReductionSpec spec, Type lanes)
    {
        if (spec.OuterRank < 1 || spec.ReducedRank < 1) throw new ArgumentException("a broadcast reduction has at least one outer and one reduced dim", nameof(spec));
        new BroadcastReductionEmitter(il, spec, lanes).EmitRows();
    }

    private void EmitRows()
    {
        var il = _il;
        int q = _spec.ReducedRank;
        int outEs = _spec.OutDType.SizeInBytes();
        int passes = _spec.ReductionPasses;
        var accs = _spec.Accumulators;
        int stash = _spec.Stash;
        var outPtr = il.Local(typeof(nint), "out");
        var inPtr = Pointers("in");
        var basePtr = Pointers("base");
        var rowPtr = Pointers("row");
        var stride = new LocalBuilder?[_n];
        var inner = il.Local(typeof(long), "inner");
        var i = il.Local(typeof(long), "i");
        var j = il.Local(typeof(long), "j");
        var ju = il.Local(typeof(long), "ju");
        var rr = il.Local(typeof(long), "rr");
        var rem = il.Local(typeof(long), "rem");
        var idx = il.Local(typeof(long), "idx");
        var outRow = il.Local(typeof(nint), "outRow");
        var outAt = il.Local(typeof(nint), "outAt");
        var accV = accs.ToDictionary(a => a, a => Enumerable.Range(0, ReductionSpec.RowAccumulators).Select(u => il.Local(_vecType, $"acc{a}V{u}")).ToArray());
        var accS = accs.ToDictionary(a => a, a => il.Local(typeof(float), $"acc{a}S"));

        BindRowInputs(outPtr, inPtr, stride);

        Arg(ShapeAt + _rank - 1);
        il.Op(OpCodes.Stloc, inner);
        var reducedRows = q > 1 ? Product("reducedRows", _p, _rank - 2) : null;
        var rowLength = Product("rowLength", _p, _rank - 1);
        var count = accs.Any(a => Body[a].Op == Op.Mean) ? CountOf(_p, _rank - 1) : null;
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
        il.Op(OpCodes.Ldloc, outPtr);
        il.Op(OpCodes.Ldloc, i);
        il.Op(OpCodes.Ldloc, rowLength);
        il.Op(OpCodes.Mul);
        ScaleToBytes(outEs);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, outRow);
        RowValues(-1, basePtr);

        var walk = new RowWalk(basePtr, rowPtr, inner, reducedRows, rr, j, ju, rem, idx);

        // outAt = outRow + rr * inner * es
        void OutAtRow()
        {
            il.Op(OpCodes.Ldloc, outRow);
            il.Op(OpCodes.Ldloc, rr);
            il.Op(OpCodes.Ldloc, inner);
            il.Op(OpCodes.Mul);
            ScaleToBytes(outEs);
            il.Op(OpCodes.Add);
            il.Op(OpCodes.Stloc, outAt);
        }

        for (int pass = 0; pass < passes; pass++)
        {
            var level = accs.Where(a => _spec.Level(a) == pass).ToList();
            var ops = _spec.ElementOps(pass);
            foreach (int a in level)
            {
                il.Op(OpCodes.Ldc_R4, ReductionSpec.Identity(Body[a].Op));
                il.Op(OpCodes.Stloc, accS[a]);
                foreach (var v in accV[a])
                {
                    il.Op(OpCodes.Ldc_R4, ReductionSpec.Identity(Body[a].Op));
                    il.Call(M(_vectorIo, "Splat"));
                    il.Op(OpCodes.Stloc, v);
                }
            }

            Sweep(
                walk,
                $"P{pass}",
                (vector, at, u) =>
                {
                    foreach (int b in ops) EmitOp(b, vector, k => RowLoad(k, rowPtr, at, stride, vector));
                    foreach (int a in level) Fold(a, vector ? accV[a][u] : accS[a], vector);
                    if (stash >= 0 && pass == passes - 1)
                    {
                        // Kept in the output row for the last pass (stored in the output's dtype, which is its own).
                        il.Op(OpCodes.Ldloc, vector ? _vec[stash] : _scl[stash]);
                        OutAddress(at);
                        il.Call(M(vector ? _vectorIo : typeof(ScalarLanes), "Store" + Suffix(_spec.OutDType)));
                    }
                },
                unrolled: true,
                atRowStart: OutAtRow);

            // The vector accumulators pairwise, then lane by lane into the tail's; then the row values of this pass.
            foreach (int a in level)
            {
                CombineLanes(accV[a], accS[a], Body[a].Op, tmp);

                // The value: a mean divided by the count, rounded to its dtype, as a scalar and splatted.
                il.Op(OpCodes.Ldloc, accS[a]);
                if (Body[a].Op == Op.Mean)
                {
                    il.Op(OpCodes.Ldloc, count!);
                    il.Call(MathMethod(Op.Div, typeof(Lanes1), typeof(float)));
                }

                Round(typeof(ScalarLanes), Body[a].DType, castFromOther: false);
                il.Op(OpCodes.Stloc, _scl[a]);
                Splat(a);
            }

            RowValues(pass, basePtr);
        }

        // The last pass: the result at every element, stored densely.
        var final = _spec.ElementOps(passes, stashed: true);
        Sweep(
            walk,
            "OUT",
            (vector, at, _) =>
            {
                foreach (int b in final)
                {
                    if (b != stash)
                    {
                        EmitOp(b, vector, k => RowLoad(k, rowPtr, at, stride, vector));
                        continue;
                    }

                    OutAddress(at);
                    il.Call(M(vector ? _vectorIo : typeof(ScalarLanes), "Load" + Suffix(_spec.OutDType)));
                    il.Op(OpCodes.Stloc, vector ? _vec[b] : _scl[b]);
                }

                il.Op(OpCodes.Ldloc, vector ? _vec[^1] : _scl[^1]);
                OutAddress(at);
                il.Call(M(vector ? _vectorIo : typeof(ScalarLanes), "Store" + Suffix(_spec.OutDType)));
            },
            unrolled: false,
            atRowStart: OutAtRow);

        il.Op(OpCodes.Ldloc, i);
        Long(1);
        il.Op(OpCodes.Add);
        il.Op(OpCodes.Stloc, i);
        il.Op(OpCodes.Br, loop);
        il.Mark(done);
        il.Op(OpCodes.Ret);

        // outAt + at * es, the output element `at` of the current reduced row.
        void OutAddress(LocalBuilder at)
        {
            il.Op(OpCodes.Ldloc, outAt);
            il.Op(OpCodes.Ldloc, at);
            ScaleToBytes(outEs);
            il.Op(OpCodes.Add);
        }

        // One walk over the row: for each reduced row (rowPtr, and outAt the output's), a block of four vectors while
        // it fits (element(vector, index, block position)), then one vector at a time (position 0), then the scalar tail.
    }

    // The row values computable after pass `pass` (-1: before the first), in scalar (inputs read at the row's base),
    // each splatted for the vector loops.
    private void RowValues(int pass, LocalBuilder[] basePtr)
    {
        foreach (int b in _spec.RowOps(pass))
        {
            EmitOp(b, vector: false, k => ScalarAt(basePtr[k], k));
            Splat(b);
        }
    }

    private void Splat(int b)
    {
        _il.Op(OpCodes.Ldloc, _scl[b]);
        _il.Call(M(_vectorIo, "Splat"));
        _il.Op(OpCodes.Stloc, _vec[b]);
    }

    // acc = combine(acc, value accumulator a reads)
    private void Fold(int a, LocalBuilder acc, bool vector)
    {
        int value = Body[a].Args[0];
        _il.Op(OpCodes.Ldloc, acc);
        _il.Op(OpCodes.Ldloc, vector ? _vec[value] : _scl[value]);
        _il.Call(MathMethod(ReductionSpec.Combine(Body[a].Op), vector ? _lanes : typeof(Lanes1), vector ? _vecType : typeof(float)));
        _il.Op(OpCodes.Stloc, acc);
    }
}
