using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A lowered tensor value: a strided view (offset and strides in elements) of a plan buffer, or a constant
/// (every element equal, no buffer yet) that kernels may inline. A view with <see cref="StoredDType"/> is a weight
/// kept in that narrower dtype and read as <see cref="DType"/> (a cast not yet materialized): only the GEMM reads it
/// as it is; every other consumer gets the cast materialized first.
/// </summary>
internal sealed record TensorView(int Slot, Dim Offset, Dim[] Shape, Dim[] Strides, DType DType, double? Constant = null, DType? StoredDType = null)
{
    /// <summary>True for a weight whose cast to <see cref="DType"/> is deferred to the kernel that reads it.</summary>
    public bool IsDeferredCast => StoredDType is not null;

    public int Rank => Shape.Length;

    public Dim Numel => Shape.Aggregate(Dim.One, (a, d) => a * d);

    public bool IsConstant => Constant is not null;

    /// <summary>Row-major strides of a shape.</summary>
    public static Dim[] ContiguousStrides(IReadOnlyList<Dim> shape)
    {
        var s = new Dim[shape.Count];
        Dim acc = Dim.One;
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= shape[i];
        }

        return s;
    }

    /// <summary>A contiguous view of a whole buffer.</summary>
    public static TensorView Dense(int slot, DType dtype, IReadOnlyList<Dim> shape) =>
        new(slot, Dim.Zero, [.. shape], ContiguousStrides(shape), dtype);

    /// <summary>A constant of the given shape.</summary>
    public static TensorView Const(double value, DType dtype, IReadOnlyList<Dim> shape) =>
        new(-1, Dim.Zero, [.. shape], [.. shape.Select(_ => Dim.Zero)], dtype, value);

    /// <summary>True when the elements are laid out row-major without gaps (size-1 dims may have any stride).</summary>
    public bool IsContiguous
    {
        get
        {
            if (IsConstant) return false;
            var c = ContiguousStrides(Shape);
            for (int i = 0; i < Rank; i++)
            {
                if (Shape[i] != Dim.One && Strides[i] != c[i]) return false;
            }

            return true;
        }
    }

    /// <summary>True when contiguous and starting at the buffer's beginning.</summary>
    public bool IsDense => IsContiguous && Offset == Dim.Zero;
}
