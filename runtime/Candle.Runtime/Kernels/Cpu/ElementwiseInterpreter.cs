using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// A generated elementwise kernel run without generated code: the kernel's body travels in the step's arguments
/// and is evaluated element by element with the same float32 operations as a generated kernel's scalar tail
/// (each op's lanes form at width one, <see cref="ScalarLanes"/> loads, stores and roundings), so plans that hold
/// no kernel assembly run where code cannot be generated or loaded (NativeAOT). Work items are output elements;
/// the output is dense.
/// </summary>
/// <remarks>
/// Args: <c>nIn, rank, nBody, outSlot, outDType, inSlot[nIn], inDType[nIn], shape[rank]</c>, then per input
/// <c>offset, strides[rank]</c> (in elements), then per body op <c>code, dtype, arg0, arg1, arg2, value</c>: code
/// <see cref="InputCode"/> reads input <c>arg0</c>, <see cref="ConstantCode"/> is the double whose bits are
/// <c>value</c>, any other code is an <see cref="ElementwiseOps"/> op over earlier body ops (<c>arg0..</c>, unused
/// ones -1). The last body op is stored. Inputs and outputs are float32, float16, bfloat16 or bool.
/// </remarks>
public static class ElementwiseInterpreter
{
    /// <summary>The body code of an input read.</summary>
    public const int InputCode = -1;

    /// <summary>The body code of a constant.</summary>
    public const int ConstantCode = -2;

    /// <summary>Arguments per body op.</summary>
    public const int OpArgs = 6;

    private const int MaxInputs = 16;
    private const int MaxRank = 16;
    private const int MaxBody = 4096;

    /// <summary>The kernel.</summary>
    /// <exception cref="ArgumentException">The arguments do not describe a valid body (the message says what is wrong).</exception>
    public static unsafe void Run(nint[] slots, long[] a, long start, long end)
    {
        if (a.Length < 5) throw new ArgumentException($"fused elementwise kernel: {a.Length} arguments, expected at least 5");
        int nIn = Small(a[0], MaxInputs, "input count"), rank = Small(a[1], MaxRank, "rank"), nBody = Small(a[2], MaxBody, "body length");
        if (nBody == 0) throw new ArgumentException("fused elementwise kernel: empty body");
        int inSlotAt = 5, inTypeAt = inSlotAt + nIn, shapeAt = inTypeAt + nIn, viewAt = shapeAt + rank;
        int bodyAt = viewAt + (nIn * (1 + rank));
        if (a.Length < bodyAt + (nBody * OpArgs)) throw new ArgumentException($"fused elementwise kernel: {a.Length} arguments, its header needs {bodyAt + (nBody * OpArgs)}");
        var outType = Storage(a[4]);
        byte* outp = (byte*)Slot(slots, a[3]);
        int outSize = outType.SizeInBytes();

        var ops = new BodyOp[nBody];
        for (int b = 0; b < nBody; b++)
        {
            int p = bodyAt + (b * OpArgs);
            ops[b] = Decode(a, p, b, nIn);
        }

        Span<nint> inPtr = stackalloc nint[Math.Max(nIn, 1)];
        Span<int> inType = stackalloc int[Math.Max(nIn, 1)];
        Span<long> off = stackalloc long[Math.Max(nIn, 1)];
        for (int k = 0; k < nIn; k++)
        {
            inPtr[k] = Slot(slots, a[inSlotAt + k]);
            inType[k] = (int)Storage(a[inTypeAt + k]);
        }

        Span<long> idx = stackalloc long[Math.Max(rank, 1)];
        Span<float> vals = nBody <= 256 ? stackalloc float[nBody] : new float[nBody];
        for (long i = start; i < end; i++)
        {
            long rem = i;
            for (int d = rank - 1; d >= 0; d--)
            {
                long n = a[shapeAt + d];
                if (n <= 0) throw new ArgumentException($"fused elementwise kernel: dimension {d} has size {n}");
                idx[d] = rem % n;
                rem /= n;
            }

            for (int k = 0; k < nIn; k++)
            {
                int v = viewAt + (k * (1 + rank));
                long o = a[v];
                for (int d = 0; d < rank; d++) o += idx[d] * a[v + 1 + d];
                off[k] = o;
            }

            for (int b = 0; b < nBody; b++)
            {
                var op = ops[b];
                vals[b] = op.Code switch
                {
                    InputCode => Load((byte*)inPtr[op.A0], (DType)inType[op.A0], off[op.A0]),
                    ConstantCode => op.Constant,
                    _ when op.Code == CastOp.Code => Round(vals[op.A0], op.DType, castFromOther: true),
                    _ when op.Code == WhereOp.Code => Round(ScalarLanes.Where(vals[op.A0], vals[op.A1], vals[op.A2]), op.DType, castFromOther: false),
                    _ when op.Unary is { } f => Round(f(vals[op.A0]), op.DType, castFromOther: false),
                    _ when op.DType == DType.Bool && op.Code == AddOp.Code => ScalarLanes.ToBool(op.Binary!(vals[op.A0], vals[op.A1])),
                    _ => Round(op.Binary!(vals[op.A0], vals[op.A1]), op.DType, castFromOther: false),
                };
            }

            Store(vals[nBody - 1], outp + (i * outSize), outType);
        }
    }

    /// <summary>
    /// Decodes the body of a step's arguments (header already checked: <paramref name="bodyAt"/> is where it starts)
    /// as the kernel does, so that a plan can reject a malformed body when it binds the step.
    /// </summary>
    /// <exception cref="ArgumentException">A body op is malformed (the message says which and why).</exception>
    internal static void CheckBody(long[] a, int nIn, int bodyAt, int nBody)
    {
        for (int b = 0; b < nBody; b++) Decode(a, bodyAt + (b * OpArgs), b, nIn);
    }

    private static BodyOp Decode(long[] a, int p, int b, int nIn)
    {
        long code = a[p];
        var dtype = Storage(a[p + 1]);
        if (code == InputCode)
        {
            if (a[p + 2] < 0 || a[p + 2] >= nIn) throw new ArgumentException($"fused elementwise kernel: body op {b} reads input {a[p + 2]} of {nIn}");
            return new BodyOp(InputCode, dtype, (int)a[p + 2], 0, 0, 0, null, null);
        }

        if (code == ConstantCode) return new BodyOp(ConstantCode, dtype, 0, 0, 0, (float)BitConverter.Int64BitsToDouble(a[p + 5]), null, null);
        if (code < 0 || code > int.MaxValue) throw new ArgumentException($"fused elementwise kernel: body op {b} has code {code}");
        if (!ElementwiseOps.All.Any(d => d.Code == code)) throw new ArgumentException($"fused elementwise kernel: body op {b} has code {code}, which is no elementwise op");
        var def = ElementwiseOps.ByCode((int)code);
        int arity = def.Code == WhereOp.Code ? 3 : def.Code == CastOp.Code || def.UnaryF32 is not null ? 1 : 2;
        if (arity == 2 && def.BinaryF32 is null) throw new ArgumentException($"fused elementwise kernel: body op {b} ({def.Name}) has no float form");
        Span<int> args = stackalloc int[3];
        for (int k = 0; k < 3; k++)
        {
            long x = a[p + 2 + k];
            if (k < arity && (x < 0 || x >= b)) throw new ArgumentException($"fused elementwise kernel: body op {b} ({def.Name}) refers to op {x}, not an earlier one");
            args[k] = k < arity ? (int)x : 0;
        }

        return new BodyOp((int)code, dtype, args[0], args[1], args[2], 0, def.UnaryF32, def.BinaryF32);
    }

    private static int Small(long v, int max, string what) =>
        v >= 0 && v <= max ? (int)v : throw new ArgumentException($"fused elementwise kernel: {what} {v} is outside 0..{max}");

    private static nint Slot(nint[] slots, long slot) =>
        slot >= 0 && slot < slots.Length ? slots[slot] : throw new ArgumentException($"fused elementwise kernel: slot {slot} of {slots.Length}");

    private static DType Storage(long v) => (DType)v is DType.F32 or DType.F16 or DType.BF16 or DType.Bool
        ? (DType)v
        : throw new ArgumentException($"fused elementwise kernel: dtype code {v} is not float32, float16, bfloat16 or bool");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Load(byte* p, DType dt, long index) => dt switch
    {
        DType.F32 => ScalarLanes.LoadF32(p + (index * 4)),
        DType.F16 => ScalarLanes.LoadF16(p + (index * 2)),
        DType.BF16 => ScalarLanes.LoadBF16(p + (index * 2)),
        _ => ScalarLanes.LoadBool(p + index),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(float v, byte* p, DType dt)
    {
        switch (dt)
        {
            case DType.F32: ScalarLanes.StoreF32(v, p); break;
            case DType.F16: ScalarLanes.StoreF16(v, p); break;
            case DType.BF16: ScalarLanes.StoreBF16(v, p); break;
            default: ScalarLanes.StoreBool(v, p); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Round(float v, DType dt, bool castFromOther) => dt switch
    {
        DType.F16 => ScalarLanes.RoundF16(v),
        DType.BF16 => ScalarLanes.RoundBF16(v),
        DType.Bool when castFromOther => ScalarLanes.ToBool(v),
        _ => v,
    };

    private readonly record struct BodyOp(int Code, DType DType, int A0, int A1, int A2, float Constant, Func<float, float>? Unary, Func<float, float, float>? Binary);
}
