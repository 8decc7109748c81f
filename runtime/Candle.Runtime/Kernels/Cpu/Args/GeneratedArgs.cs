using System.Globalization;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// What the runtime knows of a generated kernel (<c>gen:NAME</c>) from its specification in the plan's kernel listing
/// (elementwise: <c>ew r{rank} out={dtype} in=[{dtype}:{access}, …] body=[…]</c>; reduction:
/// <c>red r{rank} q{reduced} {strategy} out=… in=[…] body=[…]</c>; reduction with a broadcast consumer:
/// <c>bred r{rank} q{reduced} out=… in=[…] body=[…]</c>): the rank of its iteration space, how many of its
/// trailing dims are reduced, its output dtype and its inputs' dtypes, which fix the layout of its arguments.
/// </summary>
/// <param name="Rank">The rank of the collapsed iteration space.</param>
/// <param name="Output">The output's dtype.</param>
/// <param name="Inputs">The inputs' dtypes.</param>
/// <param name="Reduced">How many trailing dims a reduction sums over (0 for an elementwise kernel): the output is dense over the others.</param>
internal sealed record GeneratedLayout(int Rank, DType Output, IReadOnlyList<DType> Inputs, int Reduced = 0)
{
    /// <summary>The inputs the kernel reads with vector loads of consecutive elements along <see cref="VectorAxis"/> (their stride there must be 1).</summary>
    public IReadOnlyList<bool> Contiguous { get; init; } = [];

    /// <summary>True when the output is dense over the whole space (a reduction broadcast back over its rows): work items are rows.</summary>
    public bool WholeSpace { get; init; }

    /// <summary>The dim the vector lanes run along: the last, or for a reduction along columns the last outer dim.</summary>
    public int VectorAxis { get; init; } = Rank - 1;

    /// <summary>The dtypes of an elementwise kernel's further outputs (<c>also=[…]</c>), each dense like the output; none for one output.</summary>
    public IReadOnlyList<DType> Stores { get; init; } = [];

    /// <summary>The argument count of a step calling the kernel.</summary>
    public int Count => 1 + Inputs.Count + Rank + (Inputs.Count * (1 + Rank)) + Stores.Count;

    /// <summary>Parses a kernel's specification; null when it is not an elementwise kernel's.</summary>
    public static GeneratedLayout? Parse(string spec)
    {
        // ew r2 out=float32 in=[float32:contiguous, float32:broadcast] body=[...]
        // red r3 q1 rows out=float32 in=[float32:contiguous] body=[...]
        // bred r2 q1 out=float32 in=[float32:contiguous] body=[...]
        int reduced = 0;
        int at;
        if (spec.StartsWith("ew r", StringComparison.Ordinal)) at = 4;
        else if (spec.StartsWith("red r", StringComparison.Ordinal)) at = 5;
        else if (spec.StartsWith("bred r", StringComparison.Ordinal)) at = 6;
        else return null;
        int sp = spec.IndexOf(' ', at);
        int outAt = spec.IndexOf(" out=", StringComparison.Ordinal);
        int inAt = spec.IndexOf(" in=[", StringComparison.Ordinal);
        if (sp < 0 || outAt < sp || inAt < outAt) return null;
        if (!int.TryParse(spec.AsSpan(at, sp - at), NumberStyles.None, CultureInfo.InvariantCulture, out int rank) || rank > ArgCheck.MaxRank) return null;
        int vectorAxis = rank - 1;
        if (at == 5)
        {
            // " q{reduced} {strategy}"
            int qEnd = spec.IndexOf(' ', sp + 1);
            if (qEnd < 0 || qEnd > outAt || spec[sp + 1] != 'q') return null;
            if (!int.TryParse(spec.AsSpan(sp + 2, qEnd - sp - 2), NumberStyles.None, CultureInfo.InvariantCulture, out reduced) || reduced < 1 || reduced >= rank) return null;
            switch (spec[(qEnd + 1)..outAt])
            {
                case "rows": break;
                case "columns": vectorAxis = rank - reduced - 1; break;
                default: return null;
            }
        }
        else if (at == 6)
        {
            // " q{reduced}"
            if (spec[sp + 1] != 'q' || outAt <= sp + 2) return null;
            if (!int.TryParse(spec.AsSpan(sp + 2, outAt - sp - 2), NumberStyles.None, CultureInfo.InvariantCulture, out reduced) || reduced < 1 || reduced >= rank) return null;
        }
        else if (outAt != sp)
        {
            return null;
        }

        if (Named(spec[(outAt + 5)..inAt]) is not { } output) return null;
        int close = spec.IndexOf(']', inAt);
        if (close < 0) return null;
        var inputs = new List<DType>();
        var contiguous = new List<bool>();
        foreach (string item in spec[(inAt + 5)..close].Split(", ", StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = item.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || Named(item[..colon]) is not { } dt) return null;
            inputs.Add(dt);
            contiguous.Add(item[(colon + 1)..] == "contiguous");
        }

        var stores = new List<DType>();
        int also = spec.IndexOf(" also=[", StringComparison.Ordinal);
        if (also >= 0)
        {
            // ew … body=[…] also=[{dtype}@{op}, …]: only elementwise kernels have further outputs.
            if (at != 4 || !spec.EndsWith(']')) return null;
            foreach (string item in spec[(also + 7)..^1].Split(", "))
            {
                int sign = item.IndexOf('@', StringComparison.Ordinal);
                if (sign < 0 || Named(item[..sign]) is not { } dt) return null;
                stores.Add(dt);
            }
        }

        return new GeneratedLayout(rank, output, inputs, reduced) { Contiguous = contiguous, VectorAxis = vectorAxis, WholeSpace = at == 6, Stores = stores };
    }

    private static DType? Named(string name)
    {
        foreach (var dt in Enum.GetValues<DType>())
        {
            if (dt.TorchName() == name) return dt;
        }

        return null;
    }
}

/// <summary>
/// The arguments of a generated elementwise kernel: <c>outSlot, inSlot[n], shape[rank], then per input offset,
/// strides[rank], then storeSlot[m]</c> (in elements; every output is dense over the shape). Work items are output elements.
/// </summary>
internal readonly record struct GeneratedArgs<T>(T Output, IReadOnlyList<T> InputSlots, IReadOnlyList<T> Shape, IReadOnlyList<(T Offset, IReadOnlyList<T> Strides)> Views)
{
    /// <summary>The buffers of the kernel's further outputs (<see cref="GeneratedLayout.Stores"/>).</summary>
    public IReadOnlyList<T> StoreSlots { get; init; } = [];

    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode()
    {
        var args = new List<T> { Output };
        args.AddRange(InputSlots);
        args.AddRange(Shape);
        foreach (var (offset, strides) in Views)
        {
            args.Add(offset);
            args.AddRange(strides);
        }

        args.AddRange(StoreSlots);
        return [.. args];
    }
}

/// <summary>Decoding and accesses of <see cref="GeneratedArgs{T}"/>.</summary>
internal static class GeneratedArgs
{
    /// <summary>The prefix of generated kernels' names in plan steps.</summary>
    public const string Prefix = "gen:";

    /// <summary>The bytes a call of the kernel described by <paramref name="layout"/> reads and writes over <paramref name="work"/> elements.</summary>
    public static IEnumerable<StepExtent> Accesses(GeneratedLayout layout, long[] a, long work)
    {
        ArgCheck.Count(a, layout.Count, layout.Count);
        int n = layout.Inputs.Count, r = layout.Rank;
        long[] shape = a[(1 + n)..(1 + n + r)];
        long numel = 1, rowLength = 1;
        for (int d = 0; d < r; d++)
        {
            long size = ArgCheck.Size(shape[d], "extent");
            if (d < r - layout.Reduced) numel = StepExtent.Mul(numel, size);
            else rowLength = StepExtent.Mul(rowLength, size);
        }

        if (numel != work) throw new PlanFormatException($"{(layout.Reduced > 0 ? "outer shape" : "shape")} has {numel} elements but the step covers {work}");
        long written = layout.WholeSpace ? StepExtent.Mul(work, rowLength) : work;
        var extents = new List<StepExtent> { StepExtent.Dense(ArgCheck.Slot(a[0], "output"), layout.Output.SizeInBytes(), 0, written, writes: true) };
        int p = 1 + n + r;
        for (int i = 0; i < n; i++)
        {
            if (i < layout.Contiguous.Count && layout.Contiguous[i] && r > 0 && a[p + 1 + layout.VectorAxis] != 1)
            {
                throw new PlanFormatException($"input {i} is read contiguously along dim {layout.VectorAxis} but its stride there is {a[p + 1 + layout.VectorAxis]}");
            }

            extents.Add(StepExtent.Of(ArgCheck.Slot(a[1 + i], $"input {i}"), layout.Inputs[i].SizeInBytes(), a[p], shape, a[(p + 1)..(p + 1 + r)], writes: false));
            p += 1 + r;
        }

        for (int k = 0; k < layout.Stores.Count; k++)
        {
            extents.Add(StepExtent.Dense(ArgCheck.Slot(a[p + k], $"output {k + 1}"), layout.Stores[k].SizeInBytes(), 0, written, writes: true));
        }

        return extents;
    }
}
