using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>How a model is imported.</summary>
public sealed record OnnxImportOptions
{
    /// <summary>
    /// Graph inputs whose values are fixed at import: each becomes a constant (named as the input) instead of a graph
    /// input, so shape computations that read it (a Reshape's shape, Slice's starts, reduction axes given as inputs)
    /// fold. The imported graph no longer takes these inputs.
    /// </summary>
    public IReadOnlyDictionary<string, HostTensor>? ConstantInputs { get; init; }

    /// <summary>
    /// The most nodes one import may build, counted together: every ONNX node imported (a control-flow body's nodes once
    /// per copy that unrolling a Loop, Scan or If makes, nested bodies included) and the IR nodes an op adds in
    /// proportion to an attribute or a shape (RNN/GRU/LSTM steps, TopK rounds, pool kernel offsets, GridSample taps).
    /// A model past it fails with an <see cref="OnnxImportException"/> naming the node, its op and this budget, so
    /// that a hostile file cannot make an import run for minutes. Default 1,000,000.
    /// </summary>
    public long MaxNodes { get; init; } = 1_000_000;

    /// <summary>
    /// The most elements of the constants the importer computes itself, counted together over one import (DFT and STFT
    /// matrices, resize weights, index tables of pools, Col2Im, STFT frames and scatters): a model past it fails with an
    /// <see cref="OnnxImportException"/> naming the node, its op and this budget, before the constant is allocated.
    /// Weights stored in the file are bounded by the file itself and not counted. Default 2^26 (67,108,864).
    /// </summary>
    public long MaxConstantElements { get; init; } = 1L << 26;

    /// <summary>
    /// The inputs a caller may fix with <see cref="ConstantInputs"/> without copying much: int32 and int64 tensors of rank
    /// 0 or 1 with at most 64 elements (shapes, axes, starts and ends as graph inputs) and tensors of one element of any type
    /// (a Range's bounds, a Pad's value, a OneHot's depth).
    /// </summary>
    public static bool IsShapeLike(HostTensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t.ElementCount == 1 && t.Rank <= 1 || t.DType is Runtime.DType.I64 or Runtime.DType.I32 && t.Rank <= 1 && t.ElementCount <= 64;
    }
}
