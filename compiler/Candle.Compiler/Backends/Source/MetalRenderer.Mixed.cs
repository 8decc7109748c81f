using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Backends.Source;

/// <summary>Kernels of single elementwise ops over integer dtypes (<see cref="MixedKernelSpec"/>).</summary>
internal sealed partial class MetalRenderer
{
    /// <summary>
    /// The kernel of <paramref name="spec"/>: <c>kernel void name(device uchar* b0, device const uchar* b1..bN,
    /// constant long* args, uint gid)</c>, one thread per output element. Float-domain values use the float templates;
    /// integer ones their own (Python floor division and remainder, zero for a zero divisor).
    /// </summary>
    /// <exception cref="NotSupportedException">A dtype has no Metal storage type (float64) or the op has no integer form.</exception>
    public string MixedKernel(string name, MixedKernelSpec spec)
    {
        int n = spec.Inputs.Count, rank = spec.Rank;
        bool fl = spec.FloatDomain;
        string domain = fl ? "float" : "long";
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"kernel void {name}(device uchar* b0 [[buffer(0)]]");
        for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $", device const uchar* b{k + 1} [[buffer({k + 1})]]");
        sb.Append(CultureInfo.InvariantCulture, $", constant long* args [[buffer({n + 1})]], uint gid [[thread_position_in_grid]])\n{{\n");
        sb.Append(CultureInfo.InvariantCulture, $"    device {Storage(spec.OutDType)}* out = (device {Storage(spec.OutDType)}*)b0;\n");
        for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"    device const {Storage(spec.Inputs[k])}* in{k} = (device const {Storage(spec.Inputs[k])}*)b{k + 1};\n");
        sb.Append(CultureInfo.InvariantCulture, $"    long i = (long)gid;\n    if (i >= args[{spec.ArgumentCount}]) return;\n");
        int OffsetAt(int k) => rank + (k * (1 + rank));
        for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"    long o{k} = args[{OffsetAt(k)}];\n");
        sb.Append("    long rem = i;\n");
        for (int d = rank - 1; d >= 0; d--)
        {
            sb.Append(CultureInfo.InvariantCulture, $"    long c{d} = rem % args[{d}];\n    rem = rem / args[{d}];\n");
            for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"    o{k} += c{d} * args[{OffsetAt(k) + 1 + d}];\n");
        }

        for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"    {domain} v{k} = {LoadAs(spec.Inputs[k], $"in{k}[o{k}]", fl)};\n");
        string[] args = [.. Enumerable.Range(0, n).Select(k => $"v{k}")];
        string value = spec.Op == Op.Cast ? "v0" : fl ? Expression(spec.Op, args) : string.Format(CultureInfo.InvariantCulture, IntegerTemplate(spec.Op, spec.OutDType), [.. args]);
        sb.Append(CultureInfo.InvariantCulture, $"    {domain} r = {value};\n");
        sb.Append(CultureInfo.InvariantCulture, $"    out[i] = {StoreFrom(spec.OutDType, "r", fl)};\n}}\n");
        return sb.ToString();
    }

    private string Storage(DType dt) => dt switch
    {
        DType.I64 => "long",
        DType.I32 => "int",
        DType.I8 => "char",
        DType.U8 => "uchar",
        DType.F32 or DType.F16 or DType.BF16 or DType.Bool => StorageType(dt),
        _ => throw Unsupported(dt),
    };

    private static string LoadAs(DType dt, string element, bool toFloat) => dt switch
    {
        DType.Bool => toFloat ? $"({element} != 0 ? 1.0f : 0.0f)" : $"({element} != 0 ? 1L : 0L)",
        DType.F32 => element,
        DType.F16 or DType.BF16 => $"float({element})",
        _ => toFloat ? $"(float){element}" : $"(long){element}",
    };

    private string StoreFrom(DType dt, string value, bool fromFloat) => dt switch
    {
        DType.Bool => fromFloat ? $"(uchar)({value} != 0.0f ? 1 : 0)" : $"(uchar)({value} != 0 ? 1 : 0)",
        DType.F32 => value,
        DType.F16 => $"half({value})",
        DType.BF16 => $"bfloat({value})",
        _ => $"({Storage(dt)}){value}",
    };

    /// <summary>An op's template over 64-bit integer arguments; comparisons and logical ops give 0 or 1.</summary>
    private string IntegerTemplate(Op op, DType outDType) => op switch
    {
        Op.Neg => "(-{0})",
        Op.Abs => "({0} < 0 ? -{0} : {0})",
        Op.Relu => "({0} < 0 ? 0L : {0})",
        Op.Sign => "(long)(({0} > 0) - ({0} < 0))",
        Op.Add when outDType == DType.Bool => "(({0} != 0 || {1} != 0) ? 1L : 0L)",
        Op.Add => "({0} + {1})",
        Op.Sub => "({0} - {1})",
        Op.Mul when outDType == DType.Bool => "(({0} != 0 && {1} != 0) ? 1L : 0L)",
        Op.Mul => "({0} * {1})",
        Op.FloorDiv => "({1} == 0 ? 0L : ({0} / {1} - ((({0} % {1}) != 0 && (({0} < 0) != ({1} < 0))) ? 1L : 0L)))",
        Op.Remainder => "({1} == 0 ? 0L : ((({0} % {1}) != 0 && (({0} % {1} < 0) != ({1} < 0))) ? {0} % {1} + {1} : {0} % {1}))",
        Op.Maximum => "max({0}, {1})",
        Op.Minimum => "min({0}, {1})",
        Op.Eq => "({0} == {1} ? 1L : 0L)",
        Op.Ne => "({0} != {1} ? 1L : 0L)",
        Op.Lt => "({0} < {1} ? 1L : 0L)",
        Op.Le => "({0} <= {1} ? 1L : 0L)",
        Op.Gt => "({0} > {1} ? 1L : 0L)",
        Op.Ge => "({0} >= {1} ? 1L : 0L)",
        Op.LogicalNot => "({0} == 0 ? 1L : 0L)",
        Op.LogicalAnd => "(({0} != 0 && {1} != 0) ? 1L : 0L)",
        Op.LogicalOr => "(({0} != 0 || {1} != 0) ? 1L : 0L)",
        Op.Where => "({0} != 0 ? {1} : {2})",
        _ => throw new NotSupportedException($"the {TargetName} renderer has no integer form of op '{op.Name()}'"),
    };
}
