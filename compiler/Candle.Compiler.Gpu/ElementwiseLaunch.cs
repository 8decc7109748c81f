using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Scheduling;
using Candle.Runtime;

namespace Candle.Compiler.Gpu;

/// <summary>Which kernel of a generated elementwise spec a launch takes.</summary>
internal enum ElementwiseLaunchKind
{
    /// <summary>The general kernel (strided indices in 64-bit arithmetic).</summary>
    General,

    /// <summary>The general kernel's 32-bit variant (every index fits; specs of rank 2 and more).</summary>
    Narrow,

    /// <summary>The vectorized kernel over operands dense with the output or scalars.</summary>
    Flat,

    /// <summary>The vectorized kernel over rows of the last dimension.</summary>
    Rows,
}

/// <summary>
/// The choice, per run, of the kernel an elementwise call launches (<see cref="VectorKernelEmitter"/>): from the
/// evaluated shape, input offsets and strides and the operands' alignment, <see cref="Plan"/> takes the <c>flat</c>
/// kernel when every contiguous input is dense with the output and every broadcast input is one element, else the
/// <c>rows</c> kernel when every input's outer dimensions collapse to one row stride, else the general kernel. One
/// instance belongs to one step (its arrays are the step's scratch).
/// </summary>
internal sealed class ElementwiseLaunch
{
    /// <summary>Set to 1, every elementwise call launches the general 64-bit kernel (A/B runs against the vectorized ones).</summary>
    public const string GeneralOnlyVariable = "CANDLE_GPU_EW_GENERAL";

    /// <summary>
    /// Set to 1, the vectorized kernels take ILGPU's occupancy-based group size (one group for a few thousand elements)
    /// instead of <see cref="GroupSize"/>'s (A/B runs).
    /// </summary>
    public const string AutoGroupVariable = "CANDLE_GPU_EW_AUTOGROUP";

    /// <summary>Set to 1, the flat kernel takes one block per grid-stride step (A/B runs against the unrolled one, <see cref="ElementwiseKernelEmitter.FlatUnrolledSuffix"/>).</summary>
    public const string NoUnrollVariable = "CANDLE_GPU_EW_NO_UNROLL";

    /// <summary>
    /// Set to N (1 to <see cref="MaxVectorUnroll"/>), flat launches take the kernel that loads N blocks of every operand
    /// a grid-stride step before any math (<see cref="ElementwiseKernelEmitter.FlatUnrolledBy"/>), over as many threads
    /// as the device keeps resident of that kernel at its group size (CUDA's occupancy estimate,
    /// <see cref="KernelLauncher.ResidentThreads"/>) instead of the multiprocessors' thread limit (A/B runs; unset by default).
    /// </summary>
    public const string VectorUnrollVariable = "CANDLE_GPU_VECTOR_UNROLL";

    /// <summary>Most blocks a grid-stride step of <see cref="VectorUnrollVariable"/>'s kernel takes.</summary>
    public const int MaxVectorUnroll = 8;

    /// <summary>The blocks a step that <see cref="VectorUnrollVariable"/> asks for, or 0 when it is unset (or empty).</summary>
    /// <exception cref="InvalidOperationException">The variable is not a whole number from 1 to <see cref="MaxVectorUnroll"/>.</exception>
    public static int VectorUnroll()
    {
        string? v = Environment.GetEnvironmentVariable(VectorUnrollVariable);
        if (string.IsNullOrEmpty(v)) return 0;
        if (int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= MaxVectorUnroll) return n;
        throw new InvalidOperationException($"{VectorUnrollVariable} must be a whole number from 1 to {MaxVectorUnroll}, not '{v}'");
    }

    /// <summary>The group sizes a vectorized launch picks from (<see cref="GroupSize"/>), smallest first.</summary>
    public static ReadOnlySpan<int> GroupSizes => [32, 64, 128, 256];

    /// <summary>
    /// The group size of a vectorized launch of <paramref name="threads"/> threads on <paramref name="multiprocessors"/>
    /// multiprocessors: the largest of <see cref="GroupSizes"/> (up to <paramref name="maxGroup"/>) that still gives every
    /// multiprocessor a group, else the smallest, so a launch of a few thousand elements spreads over many
    /// multiprocessors instead of filling one group.
    /// </summary>
    public static int GroupSize(long threads, int multiprocessors, int maxGroup)
    {
        var sizes = GroupSizes;
        int pick = Math.Min(sizes[0], maxGroup);
        foreach (int g in sizes)
        {
            if (g > maxGroup) break;
            if ((threads + g - 1) / g >= Math.Max(1, multiprocessors)) pick = g;
        }

        return pick;
    }

    /// <summary>Most elements of a vectorized launch: its indices are 32-bit and the grid-stride loop must not overflow.</summary>
    public const long MaxVectorized = 1L << 30;

    /// <summary>The grid-stride threads on ILGPU's CPU accelerator: few, so its tests run the loop more than once.</summary>
    public const long CpuThreads = 64;

    /// <summary>When set on a thread, every elementwise launch the thread makes appends its kernel and vectorized blocks (tests).</summary>
    [ThreadStatic]
    internal static List<(ElementwiseLaunchKind Kind, long Blocks)>? Trace;

    /// <summary>When set on a thread, every vectorized launch the thread makes appends its kernel's name and grid-stride threads (tests).</summary>
    [ThreadStatic]
    internal static List<(string Kernel, long Threads)>? KernelTrace;

    private readonly ElementwiseSpec _spec;
    private readonly long _resident;
    private readonly int _lanes;

    /// <summary>A launch chooser of <paramref name="spec"/> on a device with <paramref name="resident"/> threads resident at once.</summary>
    public ElementwiseLaunch(ElementwiseSpec spec, long resident)
    {
        _spec = spec;
        _resident = Math.Max(1, resident);
        _lanes = VectorKernelEmitter.Supports(spec) ? VectorKernelEmitter.Lanes(spec) : 1;
        int n = spec.Inputs.Count;
        Shape = new long[spec.Rank];
        Offsets = new long[n];
        Strides = [.. Enumerable.Range(0, n).Select(_ => new long[spec.Rank])];
        RowStrides = new long[n];
        Aligned = new bool[n + 1];
        ElementSizes = [.. spec.Inputs.Select(i => i.DType.SizeInBytes())];
    }

    /// <summary>The evaluated shape (set before <see cref="Plan"/>).</summary>
    public long[] Shape { get; }

    /// <summary>Each input's evaluated element offset.</summary>
    public long[] Offsets { get; }

    /// <summary>Each input's evaluated strides over the shape.</summary>
    public long[][] Strides { get; }

    /// <summary>Whether each input's first element, then the output's (last), is 16-byte aligned.</summary>
    public bool[] Aligned { get; }

    /// <summary>Each input's element size in bytes.</summary>
    public int[] ElementSizes { get; }

    /// <summary>Each input's row stride in a <see cref="ElementwiseLaunchKind.Rows"/> plan.</summary>
    public long[] RowStrides { get; }

    /// <summary>Whether input <paramref name="k"/> is read with 16-byte loads in the vectorized blocks.</summary>
    public bool Vectorized(int k) => _spec.Inputs[k].Access == InnerAccess.Contiguous && _spec.Inputs[k].DType != DType.Bool;

    /// <summary>
    /// The kernel and its launch for <paramref name="count"/> elements: whole blocks taken vectorized (none unless every
    /// vectorized operand is aligned and, for rows, the row length and row strides are multiples of the block) and
    /// the grid-stride thread count (at most the resident threads).
    /// </summary>
    public (ElementwiseLaunchKind Kind, long Blocks, long Threads, long Cols) Plan(long count, bool flat, bool rows)
    {
        if (count > MaxVectorized) return (ElementwiseLaunchKind.General, 0, 0, 0);
        int rank = _spec.Rank;
        ElementwiseLaunchKind kind;
        long cols = 1;
        if (flat && IsFlat()) kind = ElementwiseLaunchKind.Flat;
        else if (rows && rank >= 2 && IsRows(count)) (kind, cols) = (ElementwiseLaunchKind.Rows, Shape[rank - 1]);
        else return (ElementwiseLaunchKind.General, 0, 0, 0);

        bool vector = Aligned[^1] || _spec.OutDType == DType.Bool;
        for (int k = 0; k < _spec.Inputs.Count; k++)
        {
            if (!Vectorized(k)) continue;
            vector &= Aligned[k];
            if (kind == ElementwiseLaunchKind.Rows) vector &= RowStrides[k] % _lanes == 0;
        }

        if (kind == ElementwiseLaunchKind.Rows) vector &= cols % _lanes == 0;
        long blocks = vector ? count / _lanes : 0;
        long work = Math.Max(blocks, count - (blocks * _lanes));
        return (kind, blocks, Math.Clamp(work, 1, _resident), cols);
    }

    /// <summary>Whether every index of the general kernel fits its 32-bit variant (non-negative and below 2^31).</summary>
    public bool FitsNarrow(long count)
    {
        if (count > int.MaxValue) return false;
        for (int k = 0; k < _spec.Inputs.Count; k++)
        {
            long lo = Offsets[k], hi = Offsets[k];
            for (int d = 0; d < _spec.Rank; d++)
            {
                long span = (Shape[d] - 1) * InnerOr(k, d);
                if (span < 0) lo += span;
                else hi += span;
            }

            if (lo < 0 || hi > int.MaxValue) return false;
        }

        return true;
    }

    /// <summary>Input k's stride along dim d as the general kernel reads it (the innermost one implied by its access).</summary>
    private long InnerOr(int k, int d) => d < _spec.Rank - 1 ? Strides[k][d] : _spec.Inputs[k].Access switch
    {
        InnerAccess.Contiguous => 1,
        InnerAccess.Broadcast => 0,
        _ => Strides[k][d],
    };

    /// <summary>Every contiguous input dense with the output, every broadcast input one element (sizes of 1 aside).</summary>
    private bool IsFlat()
    {
        int rank = _spec.Rank;
        for (int k = 0; k < _spec.Inputs.Count; k++)
        {
            bool dense = _spec.Inputs[k].Access == InnerAccess.Contiguous;
            long expect = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                if (Shape[d] != 1 && InnerOr(k, d) != (dense ? expect : 0)) return false;
                expect *= Shape[d];
            }
        }

        return true;
    }

    /// <summary>Every input's outer dimensions one row stride apart (sizes of 1 aside), every index within 32 bits.</summary>
    private bool IsRows(long count)
    {
        int rank = _spec.Rank;
        long cols = Shape[rank - 1];
        if (cols <= 0) return false;
        long rowCount = count / cols;
        for (int k = 0; k < _spec.Inputs.Count; k++)
        {
            long rs = 0, span = 1;
            bool first = true;
            for (int d = rank - 2; d >= 0; d--)
            {
                if (Shape[d] == 1) continue;
                long t = Strides[k][d];
                if (first) (rs, first) = (t, false);
                else if (t != rs * span) return false;
                span *= Shape[d];
            }

            if (rs < 0 || Offsets[k] < 0) return false;
            long last = ((rowCount - 1) * rs) + (_spec.Inputs[k].Access == InnerAccess.Contiguous ? cols : 1);
            if (last > MaxVectorized) return false;
            RowStrides[k] = rs;
        }

        return true;
    }
}
