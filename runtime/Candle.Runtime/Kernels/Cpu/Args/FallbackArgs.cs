using Candle.Runtime.Kernels.Cpu.Ops;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:elementwise</c> (<see cref="ElementwiseFallback"/>), the scalar kernel for any op and dtype
/// with strided and broadcast inputs: <c>op</c> (an <see cref="ElementwiseOps"/> code)<c>, out, outDType, inputCount,
/// rank, shape[rank]</c>, then per input <see cref="FallbackOperand{T}"/> <c>slot, dtype, offset, strides[rank]</c>
/// (in elements). Work items are output elements, written densely.
/// </summary>
internal readonly record struct FallbackArgs<T>(T Op, T Out, T OutDType, int InputCount, ReadOnlyMemory<T> Shape, ReadOnlyMemory<T> Operands)
{
    /// <summary>Arguments per input besides its strides.</summary>
    private const int OperandHead = 3;

    /// <summary>The arguments of <paramref name="inputs"/>, each with strides of the output's rank, as <see cref="Operands"/>.</summary>
    public static ReadOnlyMemory<T> Flatten(IEnumerable<FallbackOperand<T>> inputs) =>
        inputs.SelectMany(i => (T[])[i.Slot, i.DType, i.Offset, .. i.Strides.Span]).ToArray();

    /// <summary>Input <paramref name="k"/>.</summary>
    public FallbackOperand<T> Input(int k)
    {
        int r = Shape.Length, at = k * (OperandHead + r);
        var s = Operands.Span;
        return new(s[at], s[at + 1], s[at + 2], Operands.Slice(at + OperandHead, r));
    }

    /// <summary>The positional encoding of a plan step; <paramref name="count"/> converts the input count and the rank.</summary>
    public T[] Encode(Func<int, T> count) => [Op, Out, OutDType, count(InputCount), count(Shape.Length), .. Shape.Span, .. Operands.Span];
}

/// <summary>One input of <see cref="FallbackArgs{T}"/>: its buffer slot, dtype, offset and strides (in elements).</summary>
internal readonly record struct FallbackOperand<T>(T Slot, T DType, T Offset, ReadOnlyMemory<T> Strides);

/// <summary>Kernel name, decoding and accesses of <see cref="FallbackArgs{T}"/>.</summary>
internal static class FallbackArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:elementwise";

    /// <summary>Fields before the shape.</summary>
    private const int ShapeAt = 5;

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static FallbackArgs<long> Read(long[] a)
    {
        int r = (int)a[4];
        return new(a[0], a[1], a[2], (int)a[3], a.AsMemory(ShapeAt, r), a.AsMemory(ShapeAt + r));
    }

    /// <summary>Reads and checks the arguments: a known op with its arity, defined dtypes, the argument count.</summary>
    public static FallbackArgs<long> Decode(long[] a)
    {
        if (a.Length < ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {ShapeAt} expected");
        if (a[0] is < 0 or > int.MaxValue || !ElementwiseOps.All.Any(d => d.Code == a[0])) throw new PlanFormatException($"no elementwise op has code {a[0]}");
        var op = ElementwiseOps.ByCode((int)a[0]);
        int arity = op.Code == WhereOp.Code ? 3 : op.Code == CastOp.Code || op.Unary is not null || op.UnaryInteger is not null ? 1 : 2;
        if (a[3] != arity) throw new PlanFormatException($"{op.Name} takes {arity} inputs, not {a[3]}");
        int r = ArgCheck.Rank(a[4], "rank");
        ArgCheck.Count(a, ShapeAt + r + (arity * (3 + r)), ShapeAt + r + (arity * (3 + r)));
        var p = Read(a);
        ArgCheck.Slot(p.Out, "out");
        ArgCheck.DType(p.OutDType, "output dtype");
        ArgCheck.Sizes(p.Shape.Span, "extent");
        for (int k = 0; k < arity; k++)
        {
            var i = p.Input(k);
            ArgCheck.Slot(i.Slot, $"input {k}");
            ArgCheck.DType(i.DType, $"input {k} dtype");
        }

        // The kernel computes in integers where the input is an integer and the op has an integer form, else in double.
        bool integer = op.Code != CastOp.Code && op.Code != WhereOp.Code && !((DType)p.Input(0).DType).IsFloat();
        bool computes = op.Code == CastOp.Code || op.Code == WhereOp.Code
            || (arity == 1 ? op.Unary is not null || (integer && op.UnaryInteger is not null) : op.Binary is not null || (integer && op.BinaryInteger is not null));
        if (!computes) throw new PlanFormatException($"{op.Name} has no form for input dtype {(DType)p.Input(0).DType}");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> output elements.</summary>
    public static IEnumerable<StepExtent> Accesses(FallbackArgs<long> p, long work)
    {
        long count = ArgCheck.Product(p.Shape.Span);
        if (work != count) throw new PlanFormatException($"the step covers {work} elements but the shape has {count}");
        yield return StepExtent.Dense(p.Out, ArgCheck.DType(p.OutDType, "output dtype"), 0, work, writes: true);
        for (int k = 0; k < p.InputCount; k++)
        {
            var i = p.Input(k);
            yield return StepExtent.Of(i.Slot, ArgCheck.DType(i.DType, $"input {k} dtype"), i.Offset, p.Shape.Span, i.Strides.Span, writes: false);
        }
    }
}
