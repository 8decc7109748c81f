using System.Globalization;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// What the runtime knows of a generated elementwise kernel (<c>gen:NAME</c>) from its specification in the plan's
/// kernel listing (<c>ew r{rank} out={dtype} in=[{dtype}:{access}, …] body=[…]</c>): the rank of its iteration
/// space, its output dtype and its inputs' dtypes, which fix the layout of its arguments.
/// </summary>
/// <param name="Rank">The rank of the collapsed iteration space.</param>
/// <param name="Output">The output's dtype.</param>
/// <param name="Inputs">The inputs' dtypes.</param>
internal sealed record GeneratedLayout(int Rank, DType Output, IReadOnlyList<DType> Inputs)
{
    /// <summary>The argument count of a step calling the kernel.</summary>
    public int Count => 1 + Inputs.Count + Rank + (Inputs.Count * (1 + Rank));

    /// <summary>Parses a kernel's specification; null when it is not an elementwise kernel's.</summary>
    public static GeneratedLayout? Parse(string spec)
    {
        // ew r2 out=float32 in=[float32:contiguous, float32:broadcast] body=[...]
        if (!spec.StartsWith("ew r", StringComparison.Ordinal)) return null;
        int sp = spec.IndexOf(' ', 4);
        int outAt = spec.IndexOf(" out=", StringComparison.Ordinal);
        int inAt = spec.IndexOf(" in=[", StringComparison.Ordinal);
        if (sp < 0 || outAt != sp || inAt < outAt) return null;
        if (!int.TryParse(spec.AsSpan(4, sp - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int rank) || rank > ArgCheck.MaxRank) return null;
        if (Named(spec[(outAt + 5)..inAt]) is not { } output) return null;
        int close = spec.IndexOf(']', inAt);
        if (close < 0) return null;
        var inputs = new List<DType>();
        foreach (string item in spec[(inAt + 5)..close].Split(", ", StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = item.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || Named(item[..colon]) is not { } dt) return null;
            inputs.Add(dt);
        }

        return new GeneratedLayout(rank, output, inputs);
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
/// strides[rank]</c> (in elements; the output is dense over the shape). Work items are output elements.
/// </summary>
internal readonly record struct GeneratedArgs<T>(T Output, IReadOnlyList<T> InputSlots, IReadOnlyList<T> Shape, IReadOnlyList<(T Offset, IReadOnlyList<T> Strides)> Views)
{
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
        long numel = 1;
        foreach (long d in shape) numel = StepExtent.Mul(numel, ArgCheck.Size(d, "extent"));
        if (numel != work) throw new PlanFormatException($"shape has {numel} elements but the step covers {work}");
        var extents = new List<StepExtent> { StepExtent.Dense(ArgCheck.Slot(a[0], "output"), layout.Output.SizeInBytes(), 0, work, writes: true) };
        int p = 1 + n + r;
        for (int i = 0; i < n; i++)
        {
            extents.Add(StepExtent.Of(ArgCheck.Slot(a[1 + i], $"input {i}"), layout.Inputs[i].SizeInBytes(), a[p], shape, a[(p + 1)..(p + 1 + r)], writes: false));
            p += 1 + r;
        }

        return extents;
    }
}
