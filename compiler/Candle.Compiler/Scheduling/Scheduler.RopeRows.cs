using Candle.Compiler.Ir;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>Most parts of one <see cref="RopeRowsCall"/> (a decode step's query rope, key rope and value rows).</summary>
    internal const int MaxRopeParts = 3;

    /// <summary>Most leading dims of a <see cref="RopePart"/> after collapsing (those of the GPU rope kernel).</summary>
    internal const int RopePartRank = 3;

    /// <summary>
    /// With the scheduler's <c>ropeRows</c>: each run of consecutive rope, copy and range-check calls (a decode step's
    /// query and key ropes, then the copies of the new key and value rows into the cache) becomes the range checks
    /// followed by one <see cref="RopeRowsCall"/>. A copy whose source is a rope's dense output that nothing else reads
    /// (the rotated key row) is dropped and that rope writes into the copy's destination instead; another copy of
    /// head-dim rows (the value row) becomes a part that copies. The run is left as it is unless every rope shares its
    /// tables, dtype and head dim, every copy is taken, no part reads a buffer another part writes, and there are fewer
    /// calls after. Moving a write earlier within the run is safe because nothing in between reads or writes anything
    /// but the run's own operands, and the range checks (host-side, of symbols only) still come before every write.
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
            while (j < calls.Count && calls[j] is RopeCall or CopyCall or CheckRangeCall) j++;
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
        var copies = run.OfType<CopyCall>().ToList();
        if (ropes.Count == 0 || ropes.Count + copies.Count < 2) return null;
        var first = ropes[0];
        if (ropes.Any(r => r.DType != first.DType || r.HeadDim != first.HeadDim || r.Interleaved != first.Interleaved
            || r.Cos.Slot != first.Cos.Slot || r.Sin.Slot != first.Sin.Slot || r.X.IsConstant || r.Cos.IsConstant || r.Sin.IsConstant))
        {
            return null;
        }

        var parts = new List<RopePart>();
        var folded = new HashSet<CopyCall>(ReferenceEqualityComparer.Instance);
        foreach (var r in ropes)
        {
            var y = TensorView.Dense(r.Y, r.DType, r.X.Shape);
            var into = copies.FirstOrDefault(c => !folded.Contains(c) && !c.Src.IsConstant && c.Src.Slot == r.Y);
            if (into is not null)
            {
                // The rope's output is read by this copy alone: the rope writes the copy's destination instead.
                if (refs.GetValueOrDefault(r.Y) != 2 || _kg.KindOf(r.Y) != BufferKind.Arena || RopeOrderView(y, into) is not { } target) return null;
                y = target;
                folded.Add(into);
            }

            parts.Add(new RopePart(r.X, r.Cos, r.Sin, y));
        }

        foreach (var c in copies.Where(c => !folded.Contains(c)))
        {
            // A copy of head-dim rows in the ropes' dtype (the value row into the cache) is a part that copies.
            if (c.Src.IsConstant || c.Src.DType != first.DType || c.Dst.DType != first.DType || c.Src.Rank == 0 || c.Src.Shape[^1] != first.HeadDim) return null;
            parts.Add(new RopePart(c.Src, null, null, c.Dst));
        }

        if (parts.Count > MaxRopeParts) return null;
        var written = parts.Select(p => p.Y.Slot).ToList();
        var read = parts.SelectMany(p => new[] { p.X.Slot, p.Cos?.Slot ?? -1, p.Sin?.Slot ?? -1 }).Where(s => s >= 0).ToHashSet();
        if (written.Distinct().Count() != written.Count || written.Any(read.Contains)) return null;
        foreach (var p in parts)
        {
            var lead = p.X.Shape[..^1];
            Dim[][] strides = p.Rotates ? [p.X.Strides[..^1], p.Cos!.Strides[..^1], p.Sin!.Strides[..^1], p.Y.Strides[..^1]] : [p.X.Strides[..^1], p.Y.Strides[..^1]];
            if (p.Y.Rank != p.X.Rank || (p.Rotates && (p.Cos!.Rank != p.X.Rank || p.Sin!.Rank != p.X.Rank)) || Collapse(lead, strides).Shape.Length > RopePartRank) return null;
        }

        string label = $"ropes x{ropes.Count}, rows written into place x{folded.Count}, row copies x{copies.Count - folded.Count} ({string.Join(", ", ropes.Select(r => r.Label).Concat(copies.Select(c => c.Label)))})";
        return new RopeRowsCall(parts, first.DType, first.HeadDim, first.Interleaved, label);
    }

    /// <summary>
    /// The destination of <paramref name="copy"/> seen in the order of <paramref name="y"/>, the dense buffer the copy
    /// reads as a permutation of its dims (a rotated key row [batch, heads, 1, dim] read as [1, batch, heads, dim]),
    /// or null when the copy reads it some other way.
    /// </summary>
    private static TensorView? RopeOrderView(TensorView y, CopyCall copy)
    {
        var (src, dst) = (copy.Src, copy.Dst);
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
