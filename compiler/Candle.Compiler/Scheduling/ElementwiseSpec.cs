using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>How a generated elementwise kernel reads one input along the innermost (collapsed) dimension.</summary>
internal enum InnerAccess
{
    /// <summary>Consecutive elements (stride 1): vector loads.</summary>
    Contiguous,

    /// <summary>One element for the whole row (stride 0): a scalar load broadcast to all lanes.</summary>
    Broadcast,

    /// <summary>Any other stride, read at run time: gathers.</summary>
    Strided,
}

/// <summary>One input of a generated elementwise kernel.</summary>
internal sealed record ElementwiseInput(DType DType, InnerAccess Access);

/// <summary>One body operation: an input reference, a constant, or an op over earlier operations (by index).</summary>
internal sealed record BodyOp(Op Op, DType DType, int[] Args, int Input = -1, double Constant = 0);

/// <summary>A further output of a generated elementwise kernel: body op <paramref name="Op"/>'s value stored densely as <paramref name="DType"/>.</summary>
internal sealed record ElementwiseStore(int Op, DType DType);

/// <summary>
/// A generated elementwise kernel: its inputs' dtypes and access patterns, the body (last op is the result),
/// the output dtype and the rank of the collapsed iteration space, and the further outputs (<see cref="Stores"/>) of a
/// multi-output group. Kernel args: <c>outSlot, inSlot[n], shape[rank], then per input offset, strides[rank], then
/// storeSlot[m]</c> (in elements; every output is dense over the shape).
/// </summary>
internal sealed record ElementwiseSpec(IReadOnlyList<ElementwiseInput> Inputs, IReadOnlyList<BodyOp> Body, DType OutDType, int Rank)
{
    /// <summary>The further outputs, each a body op's value written densely like the result (none for one output).</summary>
    public IReadOnlyList<ElementwiseStore> Stores { get; init; } = [];

    /// <summary>Float-domain dtypes the generated kernels load, compute (as f32) and store.</summary>
    public static bool IsFloatDomain(DType dt) => dt is DType.F32 or DType.F16 or DType.BF16 or DType.Bool;

    /// <summary>Whether a node can be part of a generated elementwise body.</summary>
    public static bool Supports(Node n) =>
        n.Op.IsElementwise() && IsFloatDomain(n.DType) && n.Inputs.All(i => IsFloatDomain(i.DType));

    /// <summary>A key that identifies equal kernels.</summary>
    public string Key
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append("ew r").Append(Rank);
            AppendOperands(sb, OutDType, Inputs, Body);
            if (Stores.Count > 0) sb.Append(" also=[").AppendJoin(", ", Stores.Select(o => $"{o.DType.TorchName()}@{o.Op}")).Append(']');
            return sb.ToString();
        }
    }

    /// <summary>
    /// Appends the part of a kernel key every generated kind shares: <c> out=… in=[…] body=[…]</c> (the runtime's
    /// <c>ElementwiseSpecKey</c> reads it back).
    /// </summary>
    internal static StringBuilder AppendOperands(StringBuilder sb, DType outDType, IReadOnlyList<ElementwiseInput> inputs, IReadOnlyList<BodyOp> body)
    {
        sb.Append(" out=").Append(outDType.TorchName()).Append(" in=[");
        sb.AppendJoin(", ", inputs.Select(i => $"{i.DType.TorchName()}:{i.Access.ToString().ToLowerInvariant()}")).Append("] body=[");
        sb.AppendJoin("; ", body.Select(o => o.Op switch
        {
            Op.Input => $"in{o.Input}",
            Op.Full => o.Constant.ToString("R", CultureInfo.InvariantCulture),
            _ => $"{o.Op.Name()}:{o.DType.TorchName()}({string.Join(",", o.Args)})",
        }));
        return sb.Append(']');
    }

    /// <summary>A short name hint such as <c>add_mul</c>.</summary>
    public string Hint
    {
        get
        {
            var ops = Body.Where(o => o.Op is not (Op.Input or Op.Full)).Select(o => o.Op.Name()).Take(3).ToList();
            return ops.Count == 0 ? "copy" : string.Join("_", ops);
        }
    }
}
