using System.Globalization;
using System.Text;
using Candle.Compiler.Scheduling;
using Candle.Runtime;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// Renders generated kernels as Metal Shading Language. An elementwise kernel is
/// <c>kernel void name(device uchar* b0 [[buffer(0)]] ... bN, constant long* args [[buffer(N + 1)]], uint gid [[thread_position_in_grid]])</c>:
/// buffer 0 is the output, buffers 1..N the inputs, <c>args</c> the IL kernels' arguments followed by the element count
/// (see <see cref="ElementwiseArgumentCount"/>), one thread per output element with a bound check. f16 and bf16
/// elements are stored as MSL's <c>half</c> and <c>bfloat</c> and computed in <c>float</c>.
/// </summary>
internal sealed partial class MetalRenderer : CStyleRenderer
{
    /// <inheritdoc/>
    public override string TargetName => "Metal";

    /// <inheritdoc/>
    protected override string IndexType => "long";

    /// <inheritdoc/>
    protected override string UInt32Type => "uint";

    /// <inheritdoc/>
    protected override string HalfBitsType => "ushort";

    /// <inheritdoc/>
    protected override string BoolType => "uchar";

    /// <inheritdoc/>
    protected override string ByteType => "uchar";

    /// <inheritdoc/>
    protected override string HelperQualifiers => "inline";

    /// <inheritdoc/>
    protected override string BufferAddressSpace => "device";

    /// <inheritdoc/>
    protected override string Header => """
        #include <metal_stdlib>
        using namespace metal;

        """;

    /// <summary>The number of IL-layout arguments of a kernel; the element count follows them in <c>args</c>.</summary>
    public static int ElementwiseArgumentCount(ElementwiseSpec spec) => 1 + spec.Inputs.Count + spec.Rank + (spec.Inputs.Count * (1 + spec.Rank));

    /// <inheritdoc/>
    protected override string FunctionHead(string name, ElementwiseSpec spec)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"kernel void {name}(device uchar* b0 [[buffer(0)]]");
        for (int k = 0; k < spec.Inputs.Count; k++) sb.Append(CultureInfo.InvariantCulture, $", device const uchar* b{k + 1} [[buffer({k + 1})]]");
        sb.Append(CultureInfo.InvariantCulture, $", constant long* args [[buffer({spec.Inputs.Count + 1})]], uint gid [[thread_position_in_grid]])");
        return sb.ToString();
    }

    /// <inheritdoc/>
    protected override string SlotAddress(int argIndex) => $"b{argIndex}";

    /// <inheritdoc/>
    protected override string Argument(int index) => $"args[{index}]";

    /// <inheritdoc/>
    protected override string OpenIndexRange(ElementwiseSpec spec) =>
        $"    {IndexType} {IndexVariable} = ({IndexType})gid;\n    if ({IndexVariable} < args[{ElementwiseArgumentCount(spec)}])\n    {{\n";

    /// <inheritdoc/>
    protected override string CloseIndexRange() => "    }\n";

    /// <inheritdoc/>
    protected override string FloatBits(string x) => $"as_type<uint>({x})";

    /// <inheritdoc/>
    protected override string BitsFloat(string x) => $"as_type<float>({x})";

    /// <inheritdoc/>
    protected override string MathFunction(string name) => name;

    /// <inheritdoc/>
    protected override string StorageType(DType dtype) => dtype switch
    {
        DType.F16 => "half",
        DType.BF16 => "bfloat",
        _ => base.StorageType(dtype),
    };

    /// <inheritdoc/>
    protected override string Load(DType dtype, string element) => dtype is DType.F16 or DType.BF16 ? $"float({element})" : base.Load(dtype, element);

    /// <inheritdoc/>
    protected override string Store(DType dtype, string value) => dtype switch
    {
        DType.F16 => $"half({value})",
        DType.BF16 => $"bfloat({value})",
        _ => base.Store(dtype, value),
    };

    /// <inheritdoc/>
    protected override string Round(DType dtype, string value, bool castFromOther) => dtype switch
    {
        DType.F16 => $"float(half({value}))",
        DType.BF16 => $"float(bfloat({value}))",
        _ => base.Round(dtype, value, castFromOther),
    };

    /// <inheritdoc/>
    /// <remarks>One threadgroup per row (any multiple of 32 threads): buffers x, weight, bias, y, then <c>args</c>.</remarks>
    protected override string RowFunctionHead(string name) =>
        $"kernel void {name}(device const uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], device const uchar* b2 [[buffer(2)]], " +
        "device uchar* b3 [[buffer(3)]], constant long* args [[buffer(4)]], uint tgid [[threadgroup_position_in_grid]], " +
        "uint tid [[thread_index_in_threadgroup]], uint tsize [[threads_per_threadgroup]], uint lane [[thread_index_in_simdgroup]], " +
        "uint sg [[simdgroup_index_in_threadgroup]], uint nsg [[simdgroups_per_threadgroup]])";

    /// <inheritdoc/>
    protected override string OpenRows() => "    threadgroup float cd_red[32];\n    long row = (long)tgid;\n    {\n";

    /// <inheritdoc/>
    protected override string CloseRows() => "    }\n";

    /// <inheritdoc/>
    protected override string RowLoop() => "for (long j = (long)tid; j < n; j += (long)tsize)";

    /// <inheritdoc/>
    /// <remarks>
    /// simd_sum (simd_product, simd_max, simd_min; max and min propagate NaN through simd_any) within each
    /// simdgroup, the simdgroups' results through threadgroup memory between barriers, and the same simdgroup
    /// reduction over them, so every thread holds the row's value; the second barrier lets the next reduction reuse
    /// the scratch.
    /// </remarks>
    protected override string AllReduce(string acc, Combine combine)
    {
        string identity = combine switch
        {
            Combine.Sum => "0.0f",
            Combine.Product => "1.0f",
            Combine.Max => "(-INFINITY)",
            _ => "INFINITY",
        };
        string Simd(string v) => combine switch
        {
            Combine.Sum => $"simd_sum({v})",
            Combine.Product => $"simd_product({v})",
            Combine.Max => $"(simd_any({v} != {v}) ? NAN : simd_max({v}))",
            _ => $"(simd_any({v} != {v}) ? NAN : simd_min({v}))",
        };
        const string I = "        ";
        return $"{I}{acc} = {Simd(acc)};\n" +
            $"{I}if (lane == 0) cd_red[sg] = {acc};\n" +
            $"{I}threadgroup_barrier(mem_flags::mem_threadgroup);\n" +
            $"{I}{acc} = lane < nsg ? cd_red[lane] : {identity};\n" +
            $"{I}{acc} = {Simd(acc)};\n" +
            $"{I}threadgroup_barrier(mem_flags::mem_threadgroup);\n";
    }

    /// <inheritdoc/>
    protected override string SingleWriter => "tid == 0";
}
