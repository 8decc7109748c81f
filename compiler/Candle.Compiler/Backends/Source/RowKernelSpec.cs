using System.Globalization;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// A generated row kernel over a dense [rows, rowLength] input: a reduction to one value per row (sum, mean, max,
/// min, prod), a row normalization (softmax, log_softmax) or a norm with optional weight and bias over the row
/// (rms_norm, layer_norm; the weight and bias have rowLength elements of <paramref name="YType"/>). Arguments:
/// <c>xSlot, weightSlot, biasSlot, ySlot, rows, rowLength</c>; absent weight or bias slots are ignored.
/// </summary>
internal sealed record RowKernelSpec(Op Op, DType XType, DType YType, bool HasWeight = false, bool HasBias = false, double Eps = 0)
{
    /// <summary>The ops a row kernel computes.</summary>
    public static bool Supports(Op op) => op is Op.Sum or Op.Mean or Op.Max or Op.Min or Op.Prod or Op.Softmax or Op.LogSoftmax or Op.RmsNorm or Op.LayerNorm;

    /// <summary>True for the ops that write one value per row.</summary>
    public bool IsReduction => Op is Op.Sum or Op.Mean or Op.Max or Op.Min or Op.Prod;

    /// <summary>A key that identifies equal kernels.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture, $"row {Op.Name()} {XType.TorchName()}->{YType.TorchName()} w={HasWeight} b={HasBias} eps={Eps:R}");
}
