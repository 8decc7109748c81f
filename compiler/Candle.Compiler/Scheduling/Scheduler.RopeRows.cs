using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>Most parts of one <see cref="RopeRowsCall"/> (a decode step's query rope, key rope and value rows).</summary>
    internal const int MaxRopeParts = 3;

    /// <summary>Most leading dims of a <see cref="RopePart"/> after collapsing (those of the GPU rope kernel).</summary>
    internal const int RopePartRank = 3;

    /// <summary>
    /// With the scheduler's <c>ropeRows</c>: each run of consecutive rope, copy, row-write (<see cref="TryRowWrite"/>)
    /// and range-check calls (a decode step's query and key ropes, then the new key and value rows written into the
    /// cache) becomes the range checks followed by one <see cref="RopeRowsCall"/>. A copy or row write whose source is a
    /// rope's dense output that nothing else reads (the rotated key row) is dropped and that rope writes the copy's
    /// destination instead; another copy of head-dim rows (the value row) becomes a part that copies. The run is left
    /// as it is unless every rope shares its tables, dtype and head dim, every copy is taken, no part reads a buffer
    /// another part writes, and there are fewer calls after. The merged call takes the run's place, so nothing outside
    /// the run moves relative to its calls; its parts are independent; and the range checks (host-side, of symbols
    /// only) still come before every write.
    /// </summary>
    private void MergeRopeRows()
    {
        var calls = _kg.Calls;
        var refs = new Dictionary<int, int>();
        foreach (var c in calls)
        {
            foreach (var s in c.Slots.Where(s => s >= 0).Distinct()) refs[s] = refs.GetValueOrDefault(s) + 1;
        }

        var result = new List<KernelCall>(calls.Count);
        for (int i = 0; i < calls.Count;)
        {
            int j = i;
            while (j < calls.Count && calls[j] is RopeCall or CopyCall or CheckRangeCall or RopeRowsCall) j++;
            if (j == i)
            {
                result.Add(calls[i++]);
                continue;
            }

            var run = calls.GetRange(i, j - i);
            if (MergeRun(run, refs) is { } merged)
            {
                result.AddRange(run.OfType<CheckRangeCall>());
                result.Add(merged);
            }
            else
            {
                result.AddRange(run);
            }

            i = j;
        }

        calls.Clear();
        calls.AddRange(result);
    }

    private RopeRowsCall? MergeRun(List<KernelCall> run, Dictionary<int, int> refs)
    {
        var ropes = run.OfType<RopeCall>().ToList();
        // The copies: copy calls, and the copying parts of earlier row writes (TryRowWrite), each with its call.
        var copies = new List<(RopePart Part, KernelCall Call)>();
        foreach (var c in run)
        {
            if (c is CopyCall copy)
            {
                if (copy.Src.IsConstant) return null;
                copies.Add((new RopePart(copy.Src, null, null, copy.Dst), copy));
            }
            else if (c is RopeRowsCall rows)
            {
                if (rows.Parts.Any(p => p.Rotates)) return null;
                copies.AddRange(rows.Parts.Select(p => (p, (KernelCall)rows)));
            }
        }

        if (ropes.Count == 0 || ropes.Count + copies.Count < 2) return null;
        var first = ropes[0];
        if (ropes.Any(r => r.DType != first.DType || r.HeadDim != first.HeadDim || r.Interleaved != first.Interleaved
            || r.Cos.Slot != first.Cos.Slot || r.Sin.Slot != first.Sin.Slot || r.X.IsConstant || r.Cos.IsConstant || r.Sin.IsConstant))
        {
            return null;
        }

        var parts = new List<RopePart>();
        var folded = new HashSet<RopePart>(ReferenceEqualityComparer.Instance);
        foreach (var r in ropes)
        {
            var y = TensorView.Dense(r.Y, r.DType, r.X.Shape);
            var part = new RopePart(r.X, r.Cos, r.Sin, y);
            var into = copies.FirstOrDefault(c => !folded.Contains(c.Part) && c.Part.X.Slot == r.Y);
            if (into.Part is { } copy)
            {
                // The rope's output is read by this copy alone: the rope writes the copy's destination instead.
                if (refs.GetValueOrDefault(r.Y) != 2 || _kg.KindOf(r.Y) != BufferKind.Arena || RopeOrderView(y, copy.X, copy.Y) is not { } target) return null;
                if (copy.Row is not null && !BatchMajor(r.X, copy.RowBatch)) return null;
                part = copy with { X = r.X, Cos = r.Cos, Sin = r.Sin, Y = target };
                folded.Add(copy);
            }

            parts.Add(part);
        }

        foreach (var (c, _) in copies.Where(c => !folded.Contains(c.Part)))
        {
            // A copy of head-dim rows in the ropes' dtype (the value row into the cache) is a part that copies.
            if (c.X.DType != first.DType || c.Y.DType != first.DType || c.X.Rank == 0 || c.X.Shape[^1] != first.HeadDim) return null;
            parts.Add(c);
        }

        if (parts.Count > MaxRopeParts) return null;
        var written = parts.Select(p => p.Y.Slot).ToList();
        var read = parts.SelectMany(p => new[] { p.X.Slot, p.Cos?.Slot ?? -1, p.Sin?.Slot ?? -1, p.Row?.Slot ?? -1 }).Where(s => s >= 0).ToHashSet();
        if (written.Distinct().Count() != written.Count || written.Any(read.Contains)) return null;
        if (parts.Where(p => p.Row is not null).Select(p => p.Row!.Slot).Distinct().Count() > 1) return null;
        foreach (var p in parts)
        {
            var lead = p.X.Shape[..^1];
            Dim[][] strides = p.Rotates ? [p.X.Strides[..^1], p.Cos!.Strides[..^1], p.Sin!.Strides[..^1], p.Y.Strides[..^1]] : [p.X.Strides[..^1], p.Y.Strides[..^1]];
            if (p.Y.Rank != p.X.Rank || (p.Rotates && (p.Cos!.Rank != p.X.Rank || p.Sin!.Rank != p.X.Rank)) || Collapse(lead, strides).Shape.Length > RopePartRank) return null;
        }

        var labels = ropes.Select(r => r.Label).Concat(run.Where(c => c is CopyCall or RopeRowsCall).Select(c => c.Label));
        string label = $"ropes x{ropes.Count}, rows written into place x{folded.Count}, row copies x{copies.Count - folded.Count} ({string.Join(", ", labels)})";
        return new RopeRowsCall(parts, first.DType, first.HeadDim, first.Interleaved, label);
    }

    /// <summary>Whether the rows of <paramref name="x"/> (its leading dims) are batch-major over <paramref name="batch"/> entries.</summary>
    private static bool BatchMajor(TensorView x, Dim batch)
    {
        if (batch == Dim.One) return true;
        for (int i = 0; i < x.Rank - 1; i++)
        {
            if (x.Shape[i] != Dim.One) return x.Shape[i] == batch;
        }

        return false;
    }

    /// <summary>
    /// With the scheduler's <c>ropeRows</c>: <c>where(arange(capacity) == position, rows, cache)</c> over a fixed-size
    /// cache [capacity, batch, heads, dim] that is a donated input nothing else reads (a decode step's new key or value
    /// row written at <c>position_ids</c>) becomes a <see cref="RopeRowsCall"/> that copies the row into the cache at
    /// the position (and nothing where the position is outside the cache, as the <c>where</c> leaves the cache then),
    /// in place of the <c>where</c> over the whole cache; null when <paramref name="node"/> is not of that form.
    /// </summary>
    private TensorView? TryRowWrite(Node node, TensorView[] ins)
    {
        if (!_ropeRows || node.Op != Op.Where || node.Shape.Rank != 4) return null;
        var (cond, cache) = (Unexpanded(node.Inputs[0]), node.Inputs[2]);
        var (rows, y) = (ins[1], ins[2]);
        if (cond.Op != Op.Eq) return null;
        if (rows.Rank == 4 && rows.Shape[0] != Dim.One && rows.Strides[0] == Dim.Zero) rows = rows with { Shape = [Dim.One, .. rows.Shape.Skip(1)] };
        var (capacity, batch, d) = (node.Shape[0], node.Shape[1], node.Shape[3]);
        if (!IsDonatedAndUnshared(cache) || y.IsConstant || !y.IsDense || cache.DType != node.DType || !cache.Shape.Equals(node.Shape)) return null;
        if (rows.IsConstant || rows.IsDeferredCast || rows.DType != node.DType || rows.Rank != 4 || rows.Shape[0] != Dim.One || !rows.Shape.Skip(1).SequenceEqual(node.Shape.Skip(1))) return null;
        if (d.TryGetConstant() is not long dd || dd % 2 != 0) return null;
        if (cond.Shape.Rank != 4 || cond.Shape[0] != capacity || cond.Shape[1] != batch || cond.Shape[2] != Dim.One || cond.Shape[3] != Dim.One) return null;
        var (a, b) = (Unexpanded(cond.Inputs[0]), Unexpanded(cond.Inputs[1]));
        var position = IsRowIndex(a, capacity) ? b : IsRowIndex(b, capacity) ? a : null;
        if (position is null || position.DType != DType.I64 || position.Shape.Rank != 4 || position.Shape[0] != Dim.One || position.Shape[1] != batch
            || position.Shape[2] != Dim.One || position.Shape[3] != Dim.One || !_graphValues.TryGetValue(position, out var at) || at.IsConstant || at.IsDeferredCast)
        {
            return null;
        }

        var part = new RopePart(rows, null, null, y with { Shape = [.. rows.Shape] })
        {
            Row = new TensorView(at.Slot, at.Offset, [batch], [at.Strides[1]], DType.I64),
            RowBatch = batch,
            RowStride = y.Strides[0],
            Capacity = capacity,
        };
        _kg.Add(new RopeRowsCall([part], node.DType, d, false, "where (the new row written at the position)"));
        return y;
    }

    /// <summary>The node <paramref name="n"/> broadcasts (through expands), or itself.</summary>
    private static Node Unexpanded(Node n)
    {
        while (n.Op == Op.Expand) n = n.Inputs[0];
        return n;
    }

    /// <summary>Whether <paramref name="n"/> is [capacity, 1, 1, 1] holding 0, 1, …, capacity - 1 (an arange or its folded constant, possibly reshaped).</summary>
    private static bool IsRowIndex(Node n, Dim capacity)
    {
        if (n.Shape.Rank != 4 || n.Shape[0] != capacity || n.Shape[1] != Dim.One || n.Shape[2] != Dim.One || n.Shape[3] != Dim.One) return false;
        var x = n;
        while (x.Op == Op.Reshape) x = x.Inputs[0];
        // A reshape keeps the flat order: element i of x is row i.
        if (x.Shape.Numel != capacity || x.DType != DType.I64) return false;
        if (x.Op == Op.Arange) return x.Attr<ArangeAttrs>() is { Start: 0, Step: 1 };
        if (x.Op != Op.Constant || capacity.TryGetConstant() is not long c) return false;
        var data = x.Attr<ConstantAttrs>().Data;
        for (long i = 0; i < c; i++)
        {
            if (data.GetInt64(i) != i) return false;
        }

        return true;
    }

    /// <summary>
    /// The destination <paramref name="dst"/> of a copy from <paramref name="src"/> seen in the order of
    /// <paramref name="y"/>, the dense buffer the copy reads as a permutation of its dims (a rotated key row [batch, heads, 1, dim] read as [1, batch, heads, dim]),
    /// or null when the copy reads it some other way.
    /// </summary>
    private static TensorView? RopeOrderView(TensorView y, TensorView src, TensorView dst)
    {
        if (src.Offset != Dim.Zero || src.Numel != y.Numel || dst.Rank != src.Rank || src.DType != y.DType) return null;
        var strides = new Dim[y.Rank];
        var used = new bool[src.Rank];
        for (int i = 0; i < y.Rank; i++)
        {
            if (y.Shape[i] == Dim.One)
            {
                strides[i] = Dim.Zero;
                continue;
            }

            int at = -1;
            for (int k = 0; k < src.Rank && at < 0; k++)
            {
                if (!used[k] && src.Shape[k] == y.Shape[i] && src.Strides[k] == y.Strides[i]) at = k;
            }

            if (at < 0) return null;
            used[at] = true;
            strides[i] = dst.Strides[at];
        }

        for (int k = 0; k < src.Rank; k++)
        {
            if (!used[k] && src.Shape[k] != Dim.One) return null;
        }

        return new TensorView(dst.Slot, dst.Offset, [.. y.Shape], strides, dst.DType);
    }
}
