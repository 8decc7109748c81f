using System.Collections.Frozen;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>The hand-written CPU kernels that plans call by name (<c>rt:NAME</c> in a plan step).</summary>
public static class RuntimeKernels
{
    private static readonly FrozenDictionary<string, KernelFn> Table = new Dictionary<string, KernelFn>(StringComparer.Ordinal)
    {
        ["copy"] = CopyKernels.Copy,
        ["check_range"] = CheckKernels.Range,
        ["fill"] = CopyKernels.Fill,
        ["arange"] = CopyKernels.Arange,
        ["random_uniform"] = RandomKernels.Uniform,
        ["elementwise"] = ElementwiseFallback.Run,
        ["fused"] = ElementwiseInterpreter.Run,
        ["reduce"] = RowKernels.Reduce,
        ["cumsum"] = RowKernels.CumSum,
        ["softmax"] = RowKernels.Softmax,
        ["log_softmax"] = RowKernels.LogSoftmax,
        ["layer_norm"] = RowKernels.LayerNorm,
        ["rms_norm"] = RowKernels.RmsNorm,
        ["group_norm"] = RowKernels.GroupNorm,
        ["matmul"] = MatMulKernel.Run,
        ["sgemm"] = SgemmKernel.Run,
        ["gemm"] = GemmKernel.Run,
        ["conv"] = ConvKernels.Conv,
        ["conv_gemm"] = ConvGemmKernel.Run,
        ["conv_gemm_max_pool"] = ConvGemmKernel.RunMaxPool,
        ["conv_transpose"] = ConvKernels.ConvTranspose,
        ["pool"] = ConvKernels.Pool,
        ["index_select"] = GatherKernels.IndexSelect,
        ["gather"] = GatherKernels.Gather,
        ["scatter_add"] = GatherKernels.ScatterAdd,
        ["rope"] = AttentionKernels.Rope,
        ["attention"] = AttentionKernels.Attention,
        ["flash_attention"] = FlashAttentionKernel.Run,
        ["quant_matmul"] = QuantMatMulKernel.Run,
        ["quant_embedding"] = QuantMatMulKernel.Embedding,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, KernelPreparer> Preparers = new Dictionary<string, KernelPreparer>(StringComparer.Ordinal)
    {
        ["gemm"] = GemmKernel.Prepare,
        ["conv_gemm"] = ConvGemmKernel.Prepare,
        ["conv_gemm_max_pool"] = ConvGemmKernel.PrepareMaxPool,
        ["quant_matmul"] = QuantMatMulKernel.Prepare,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The names of all kernels.</summary>
    public static IEnumerable<string> Names => Table.Keys;

    /// <summary>Looks a kernel up by name.</summary>
    /// <exception cref="KeyNotFoundException">No kernel has that name.</exception>
    public static KernelFn Get(string name) =>
        Table.TryGetValue(name, out var fn) ? fn : throw new KeyNotFoundException($"no runtime kernel named '{name}'");

    /// <summary>
    /// The preparer of a kernel that keeps per-plan state (packed weights, a generated epilogue), or null when the
    /// kernel has none.
    /// </summary>
    public static KernelPreparer? GetPreparer(string name) => Preparers.GetValueOrDefault(name);
}
