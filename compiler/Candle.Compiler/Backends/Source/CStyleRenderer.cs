using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// Renders generated elementwise kernels (<see cref="ElementwiseSpec"/>) as the source of C-family languages: one
/// function per kernel over the IL kernels' argument convention (<c>outSlot, inSlot[n], shape[rank], then per input
/// offset, strides[rank]</c>), walking a flat output index range that is unraveled over the collapsed shape. Values
/// are computed in f32: f16, bf16 and bool inputs are widened on load, and results are narrowed on store (f16/bf16
/// round to nearest even, bool is nonzero). Ops are expression templates over argument names; the transcendental ones
/// call helpers emitted once in a prelude, written after the op definitions' lanes forms so every renderer agrees
/// with the IL kernels. Subclasses (C, MSL, OpenCL C) say how the function is declared, how buffers and arguments are
/// reached, what the scalar types and math functions are called and how the index range is walked.
/// </summary>
internal abstract partial class CStyleRenderer
{
    /// <summary>The prefix of helper names emitted in the prelude.</summary>
    protected const string HelperPrefix = "cd_";

    /// <summary>The target's name, used in error messages.</summary>
    public abstract string TargetName { get; }

    /// <summary>The f32 type.</summary>
    protected virtual string FloatType => "float";

    /// <summary>The signed 64-bit index type.</summary>
    protected virtual string IndexType => "int64_t";

    /// <summary>The unsigned 32-bit type (float bit patterns).</summary>
    protected virtual string UInt32Type => "uint32_t";

    /// <summary>The type holding the bits of an f16 or bf16 value.</summary>
    protected virtual string HalfBitsType => "uint16_t";

    /// <summary>The storage type of a bool element (0 or 1).</summary>
    protected virtual string BoolType => "uint8_t";

    /// <summary>The byte type buffers are addressed in.</summary>
    protected virtual string ByteType => "uint8_t";

    /// <summary>Qualifiers of prelude helper functions.</summary>
    protected virtual string HelperQualifiers => "static inline";

    /// <summary>The address-space qualifier of buffer pointers (<c>device</c>, <c>__global</c>), empty for none.</summary>
    protected virtual string BufferAddressSpace => "";

    /// <summary>The name of the flat output index variable.</summary>
    protected virtual string IndexVariable => "i";

    /// <summary>Text placed before the prelude: includes, pragmas, bit-cast helpers.</summary>
    protected abstract string Header { get; }

    /// <summary>Text placed after the last kernel (closing what <see cref="Header"/> opened), empty for none.</summary>
    protected virtual string Footer => "";

    /// <summary>The qualifier of pointers to buffers a kernel only reads (<c>const </c>), empty where the language has none.</summary>
    protected virtual string ConstQualifier => "const ";

    /// <summary>The name of the output pointer variable.</summary>
    protected virtual string OutputVariable => "out";

    /// <summary>The function head of the kernel of <paramref name="spec"/>: prefix, qualifiers, name and parameters (no body).</summary>
    protected abstract string FunctionHead(string name, ElementwiseSpec spec);

    /// <summary>An expression of the <see cref="ByteType"/> pointer of the buffer whose slot is argument <paramref name="argIndex"/>.</summary>
    protected abstract string SlotAddress(int argIndex);

    /// <summary>An expression of the 64-bit argument at <paramref name="index"/>.</summary>
    protected abstract string Argument(int index);

    /// <summary>Statements that open the walk of the output range, defining <see cref="IndexVariable"/> (a loop or a thread index and a bound check).</summary>
    protected abstract string OpenIndexRange(ElementwiseSpec spec);

    /// <summary>Statements that close what <see cref="OpenIndexRange"/> opened.</summary>
    protected abstract string CloseIndexRange();

    /// <summary>An expression reinterpreting an f32 as its bits (<see cref="UInt32Type"/>).</summary>
    protected abstract string FloatBits(string x);

    /// <summary>An expression reinterpreting bits (<see cref="UInt32Type"/>) as an f32.</summary>
    protected abstract string BitsFloat(string x);

    /// <summary>The f32 form of a math function named as in C without its suffix (<c>exp</c> → <c>expf</c> in C).</summary>
    protected virtual string MathFunction(string name) => name + "f";

    /// <summary>A float literal (NaN and infinities through the <c>NAN</c> and <c>INFINITY</c> macros).</summary>
    protected virtual string Literal(float value)
    {
        if (float.IsNaN(value)) return "NAN";
        if (float.IsPositiveInfinity(value)) return "INFINITY";
        if (float.IsNegativeInfinity(value)) return "(-INFINITY)";
        string s = value.ToString("R", CultureInfo.InvariantCulture);
        if (!s.Contains('.', StringComparison.Ordinal) && !s.Contains('E', StringComparison.Ordinal)) s += ".0";
        s += "f";
        if (value == 0 && float.IsNegative(value)) return "(-0.0f)";
        return value < 0 ? "(" + s + ")" : s;
    }

    /// <summary>A source with the header, the prelude and one function per kernel.</summary>
    public string Render(IEnumerable<(string Name, ElementwiseSpec Spec)> kernels)
    {
        var sb = new StringBuilder();
        sb.Append(Header).Append('\n').Append(RenderedPrelude()).Append('\n');
        foreach (var (name, spec) in kernels) sb.Append(Kernel(name, spec)).Append('\n');
        sb.Append(Footer);
        return sb.ToString();
    }

    /// <summary>
    /// A source with the header, the prelude, one function per elementwise kernel and one per generated reduction,
    /// the reductions along rows following <paramref name="lanes"/> vector lanes (see <see cref="ReductionKernel"/>).
    /// </summary>
    public string Render(IEnumerable<(string Name, ElementwiseSpec Spec)> kernels, IEnumerable<(string Name, ReductionSpec Spec)> reductions, int lanes)
    {
        var sb = new StringBuilder();
        sb.Append(Header).Append('\n').Append(RenderedPrelude()).Append('\n');
        foreach (var (name, spec) in kernels) sb.Append(Kernel(name, spec)).Append('\n');
        foreach (var (name, spec) in reductions) sb.Append(ReductionKernel(name, spec, lanes)).Append('\n');
        sb.Append(Footer);
        return sb.ToString();
    }

    /// <summary>
    /// A source with the header, the prelude, one function per elementwise kernel, one per generated reduction and one
    /// per generated row reduction with a broadcast consumer, the row accumulators following <paramref name="lanes"/>
    /// vector lanes.
    /// </summary>
    public string Render(
        IEnumerable<(string Name, ElementwiseSpec Spec)> kernels,
        IEnumerable<(string Name, ReductionSpec Spec)> reductions,
        IEnumerable<(string Name, BroadcastReductionSpec Spec)> broadcastReductions,
        int lanes)
    {
        var sb = new StringBuilder();
        sb.Append(Header).Append('\n').Append(RenderedPrelude()).Append('\n');
        foreach (var (name, spec) in kernels) sb.Append(Kernel(name, spec)).Append('\n');
        foreach (var (name, spec) in reductions) sb.Append(ReductionKernel(name, spec, lanes)).Append('\n');
        foreach (var (name, spec) in broadcastReductions) sb.Append(BroadcastReductionKernel(name, spec, lanes)).Append('\n');
        sb.Append(Footer);
        return sb.ToString();
    }

    /// <summary>A source with one kernel.</summary>
    public string Render(string name, ElementwiseSpec spec) => Render([(name, spec)]);

    /// <summary>The expression of one body op over argument expressions (values in f32).</summary>
    /// <exception cref="NotSupportedException">The op has no template for this target.</exception>
    public string Expression(Op op, IReadOnlyList<string> args)
    {
        string template = Template(op);
        return string.Format(CultureInfo.InvariantCulture, template, [.. args]);
    }

    /// <summary>
    /// The expression template of an op over f32 arguments <c>{0}</c>, <c>{1}</c>, <c>{2}</c>; comparisons and
    /// logical ops give 0 or 1. Every elementwise IR op that <see cref="ElementwiseSpec.Supports"/> admits is here.
    /// </summary>
    /// <exception cref="NotSupportedException">The op has no template for this target.</exception>
    protected virtual string Template(Op op) => op switch
    {
        Op.Neg => "(-{0})",
        Op.Abs => MathFunction("fabs") + "({0})",
        Op.Exp => MathFunction("exp") + "({0})",
        Op.Log => MathFunction("log") + "({0})",
        Op.Sqrt => MathFunction("sqrt") + "({0})",
        Op.Rsqrt => "(1.0f / " + MathFunction("sqrt") + "({0}))",
        Op.Sin => MathFunction("sin") + "({0})",
        Op.Cos => MathFunction("cos") + "({0})",
        Op.Tanh => MathFunction("tanh") + "({0})",
        Op.Sigmoid => HelperPrefix + "sigmoid({0})",
        Op.Relu => "({0} < 0.0f ? 0.0f : {0})",
        Op.Gelu => HelperPrefix + "gelu({0})",
        Op.GeluTanh => HelperPrefix + "gelu_tanh({0})",
        Op.Silu => HelperPrefix + "silu({0})",
        Op.Erf => HelperPrefix + "erf({0})",
        Op.Floor => MathFunction("floor") + "({0})",
        Op.Ceil => MathFunction("ceil") + "({0})",
        Op.Round => HelperPrefix + "round_even({0})",
        Op.Sign => HelperPrefix + "sign({0})",
        Op.Reciprocal => "(1.0f / {0})",
        Op.LogicalNot => "({0} == 0.0f ? 1.0f : 0.0f)",
        Op.Softplus => HelperPrefix + "softplus({0})",
        Op.Mish => HelperPrefix + "mish({0})",
        Op.Cast => "{0}",
        Op.Add => "({0} + {1})",
        Op.Sub => "({0} - {1})",
        Op.Mul => "({0} * {1})",
        Op.Div => "({0} / {1})",
        Op.FloorDiv => HelperPrefix + "floor_div({0}, {1})",
        Op.Remainder => HelperPrefix + "remainder({0}, {1})",
        Op.Pow => MathFunction("pow") + "({0}, {1})",
        Op.Maximum => HelperPrefix + "maximum({0}, {1})",
        Op.Minimum => HelperPrefix + "minimum({0}, {1})",
        Op.Eq => "({0} == {1} ? 1.0f : 0.0f)",
        Op.Ne => "({0} != {1} ? 1.0f : 0.0f)",
        Op.Lt => "({0} < {1} ? 1.0f : 0.0f)",
        Op.Le => "({0} <= {1} ? 1.0f : 0.0f)",
        Op.Gt => "({0} > {1} ? 1.0f : 0.0f)",
        Op.Ge => "({0} >= {1} ? 1.0f : 0.0f)",
        Op.LogicalAnd => "(({0} != 0.0f && {1} != 0.0f) ? 1.0f : 0.0f)",
        Op.LogicalOr => "(({0} != 0.0f || {1} != 0.0f) ? 1.0f : 0.0f)",
        Op.Where => "({0} != 0.0f ? {1} : {2})",
        _ => throw new NotSupportedException($"the {TargetName} renderer has no template for op '{op.Name()}'"),
    };

    /// <summary>The helpers a rendered source carries: <see cref="Prelude"/>, or nothing for a target whose templates call the op definitions themselves.</summary>
    protected virtual string RenderedPrelude() => Prelude();

    /// <summary>The helpers every kernel may call: f16/bf16 conversions and roundings, and the transcendental and Python-semantics ops.</summary>
    public string Prelude()
    {
        string f = FloatType, u = UInt32Type, h = HalfBitsType, q = HelperQualifiers, p = HelperPrefix;
        string Fn(string name) => MathFunction(name);
        var sb = new StringBuilder();

        // f16: exact widening; narrowing rounds to nearest even (overflow to infinity, subnormals, quiet NaN).
        sb.Append(CultureInfo.InvariantCulture, $$"""
            {{q}} {{f}} {{p}}f16_to_f32({{h}} x)
            {
                {{u}} sign = ({{u}})(x & 0x8000u) << 16;
                {{u}} e = ({{u}})(x >> 10) & 0x1Fu;
                {{u}} m = ({{u}})x & 0x3FFu;
                if (e == 0x1Fu) return {{BitsFloat("sign | 0x7F800000u | (m << 13)")}};
                if (e != 0u) return {{BitsFloat("sign | ((e + 112u) << 23) | (m << 13)")}};
                {{f}} s = ({{f}})m * 5.9604644775390625e-8f;
                return sign != 0u ? -s : s;
            }

            {{q}} {{h}} {{p}}f32_to_f16({{f}} v)
            {
                {{u}} x = {{FloatBits("v")}};
                {{u}} sign = (x >> 16) & 0x8000u;
                {{u}} ax = x & 0x7FFFFFFFu;
                if (ax > 0x7F800000u) return ({{h}})(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
                if (ax >= 0x477FF000u) return ({{h}})(sign | 0x7C00u);
                if (ax < 0x38800000u)
                {
                    {{u}} e = ax >> 23;
                    if (e < 102u) return ({{h}})sign;
                    {{u}} m = (ax & 0x7FFFFFu) | 0x800000u;
                    {{u}} shift = 126u - e;
                    {{u}} r = m >> shift;
                    {{u}} rest = m & ((1u << shift) - 1u);
                    {{u}} half = 1u << (shift - 1u);
                    if (rest > half || (rest == half && (r & 1u) != 0u)) r += 1u;
                    return ({{h}})(sign | r);
                }

                {{u}} n = ax - 0x38000000u;
                n += 0xFFFu + ((n >> 13) & 1u);
                return ({{h}})(sign | (n >> 13));
            }

            {{q}} {{f}} {{p}}bf16_to_f32({{h}} x)
            {
                return {{BitsFloat($"(({u})x) << 16")}};
            }

            {{q}} {{h}} {{p}}f32_to_bf16({{f}} v)
            {
                {{u}} x = {{FloatBits("v")}};
                if ((x & 0x7FFFFFFFu) > 0x7F800000u) return ({{h}})((x >> 16) | 0x40u);
                return ({{h}})((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
            }

            {{q}} {{f}} {{p}}round_f16({{f}} v) { return {{p}}f16_to_f32({{p}}f32_to_f16(v)); }

            {{q}} {{f}} {{p}}round_bf16({{f}} v) { return {{p}}bf16_to_f32({{p}}f32_to_bf16(v)); }


            """);

        // The ops, after the lanes forms of Candle.Runtime.Kernels.Cpu.Ops.
        sb.Append(CultureInfo.InvariantCulture, $$"""
            {{q}} {{f}} {{p}}erf({{f}} x)
            {
                if (x != x) return x;
                {{f}} ax = {{Fn("fabs")}}(x);
                if (ax < 0.5f)
                {
                    {{f}} x2 = x * x;
                    {{f}} s = {{Fn("fma")}}(x2, -1.0f / 1320.0f, 1.0f / 216.0f);
                    s = {{Fn("fma")}}(x2, s, -1.0f / 42.0f);
                    s = {{Fn("fma")}}(x2, s, 1.0f / 10.0f);
                    s = {{Fn("fma")}}(x2, s, -1.0f / 3.0f);
                    s = {{Fn("fma")}}(x2, s, 1.0f);
                    return (x * s) * 1.1283791670955126f;
                }

                {{f}} t = 1.0f / {{Fn("fma")}}(0.3275911f, ax, 1.0f);
                {{f}} r = {{Fn("fma")}}(t, 1.061405429f, -1.453152027f);
                r = {{Fn("fma")}}(t, r, 1.421413741f);
                r = {{Fn("fma")}}(t, r, -0.284496736f);
                r = {{Fn("fma")}}(t, r, 0.254829592f);
                r = r * t;
                return {{Fn("copysign")}}(1.0f - r * {{Fn("exp")}}(-(ax * ax)), x);
            }

            {{q}} {{f}} {{p}}gelu({{f}} x) { return (0.5f * x) * (1.0f + {{p}}erf(x * 0.70710677f)); }

            {{q}} {{f}} {{p}}gelu_tanh({{f}} x)
            {
                {{f}} u = 0.7978846f * {{Fn("fma")}}(0.044715f * (x * x), x, x);
                return x / (1.0f + {{Fn("exp")}}(-2.0f * u));
            }

            {{q}} {{f}} {{p}}sigmoid({{f}} x) { return 1.0f / (1.0f + {{Fn("exp")}}(-x)); }

            {{q}} {{f}} {{p}}silu({{f}} x) { return x / (1.0f + {{Fn("exp")}}(-x)); }

            {{q}} {{f}} {{p}}softplus({{f}} x)
            {
                if (x > 20.0f) return x;
                {{f}} e = {{Fn("exp")}}(-{{Fn("fabs")}}(x));
                {{f}} w = 1.0f + e;
                {{f}} d = w - 1.0f;
                {{f}} l = d == 0.0f ? e : ({{Fn("log")}}(w) * e) / d;
                return (x < 0.0f ? 0.0f : x) + l;
            }

            {{q}} {{f}} {{p}}mish({{f}} x) { return x * {{Fn("tanh")}}({{p}}softplus(x)); }

            {{q}} {{f}} {{p}}round_even({{f}} x)
            {
                {{f}} a = {{Fn("fabs")}}(x);
                if (!(a < 8388608.0f)) return x;
                {{f}} r = {{Fn("floor")}}(a);
                {{f}} d = a - r;
                if (d > 0.5f || (d == 0.5f && {{Fn("fmod")}}(r, 2.0f) != 0.0f)) r += 1.0f;
                return {{Fn("copysign")}}(r, x);
            }

            {{q}} {{f}} {{p}}sign({{f}} x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x == x ? 0.0f : x)); }

            {{q}} {{f}} {{p}}floor_div({{f}} a, {{f}} b)
            {
                if (b == 0.0f) return a / b;
                {{f}} m = {{Fn("fmod")}}(a, b);
                {{f}} d = (a - m) / b;
                if (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) d -= 1.0f;
                if (d == 0.0f) return {{Fn("copysign")}}(0.0f, a / b);
                {{f}} r = {{Fn("floor")}}(d);
                if (d - r > 0.5f) r += 1.0f;
                return r;
            }

            {{q}} {{f}} {{p}}remainder({{f}} a, {{f}} b)
            {
                {{f}} m = {{Fn("fmod")}}(a, b);
                if (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) m += b;
                return m;
            }

            {{q}} {{f}} {{p}}maximum({{f}} a, {{f}} b)
            {
                if (a != a) return a;
                if (b != b) return b;
                if (a == b) return {{Fn("copysign")}}(1.0f, a) < 0.0f ? b : a;
                return a > b ? a : b;
            }

            {{q}} {{f}} {{p}}minimum({{f}} a, {{f}} b)
            {
                if (a != a) return a;
                if (b != b) return b;
                if (a == b) return {{Fn("copysign")}}(1.0f, a) < 0.0f ? a : b;
                return a < b ? a : b;
            }

            """);
        return sb.ToString();
    }

    /// <summary>The function of one kernel.</summary>
    /// <exception cref="NotSupportedException">A body op has no template, or a dtype is outside the float domain.</exception>
    public string Kernel(string name, ElementwiseSpec spec)
    {
        int n = spec.Inputs.Count, rank = spec.Rank;
        int shapeAt = 1 + n;
        int OffsetAt(int k) => shapeAt + rank + (k * (1 + rank));
        string ix = IndexType, i = IndexVariable;

        var sb = new StringBuilder();
        sb.Append(FunctionHead(name, spec)).Append("\n{\n");
        sb.Append(CultureInfo.InvariantCulture, $"    {Pointer(spec.OutDType, isConst: false)} {OutputVariable} = ({Pointer(spec.OutDType, isConst: false)}){SlotAddress(0)};\n");
        for (int k = 0; k < spec.Stores.Count; k++)
        {
            string ptr = Pointer(spec.Stores[k].DType, isConst: false);
            sb.Append(CultureInfo.InvariantCulture, $"    {ptr} {OutputVariable}{k + 1} = ({ptr}){SlotAddress(OffsetAt(n) + k)};\n");
        }

        for (int k = 0; k < n; k++)
        {
            string ptr = Pointer(spec.Inputs[k].DType, isConst: true);
            sb.Append(CultureInfo.InvariantCulture, $"    {ptr} in{k} = ({ptr}){SlotAddress(1 + k)};\n");
        }

        sb.Append(OpenIndexRange(spec));
        const string Indent = "        ";
        for (int k = 0; k < n; k++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{Indent}{ix} o{k} = {Argument(OffsetAt(k))};\n");
        }

        if (rank > 0 && n > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{Indent}{ix} rem = {i};\n");
            for (int d = rank - 1; d >= 0; d--)
            {
                string c = $"c{d}";
                if (d > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{Indent}{ix} {c} = rem % {Argument(shapeAt + d)};\n");
                    sb.Append(CultureInfo.InvariantCulture, $"{Indent}rem = rem / {Argument(shapeAt + d)};\n");
                }
                else
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{Indent}{ix} {c} = rem;\n");
                }

                for (int k = 0; k < n; k++)
                {
                    var access = spec.Inputs[k].Access;
                    if (d == rank - 1 && access == InnerAccess.Broadcast) continue;
                    string stride = d == rank - 1 && access == InnerAccess.Contiguous ? "" : " * " + Argument(OffsetAt(k) + 1 + d);
                    sb.Append(CultureInfo.InvariantCulture, $"{Indent}o{k} += {c}{stride};\n");
                }
            }
        }

        for (int b = 0; b < spec.Body.Count; b++)
        {
            var op = spec.Body[b];
            string value = op.Op switch
            {
                Op.Input => Load(spec.Inputs[op.Input].DType, $"in{op.Input}[o{op.Input}]"),
                Op.Full => Literal(Narrow(op.DType, (float)op.Constant)),
                Op.Cast => Round(op.DType, $"v{op.Args[0]}", castFromOther: true),
                _ when op.DType == DType.Bool && op.Op == Op.Add => ToBool(Expression(op.Op, [.. op.Args.Select(a => $"v{a}")])),
                _ => Round(op.DType, Expression(op.Op, [.. op.Args.Select(a => $"v{a}")]), castFromOther: false),
            };
            sb.Append(CultureInfo.InvariantCulture, $"{Indent}{FloatType} v{b} = {value};\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"{Indent}{OutputVariable}[{i}] = {Store(spec.OutDType, $"v{spec.Body.Count - 1}")};\n");
        for (int k = 0; k < spec.Stores.Count; k++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{Indent}{OutputVariable}{k + 1}[{i}] = {Store(spec.Stores[k].DType, $"v{spec.Stores[k].Op}")};\n");
        }

        sb.Append(CloseIndexRange());
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>The pointer type of a buffer of <paramref name="dtype"/> elements.</summary>
    protected string Pointer(DType dtype, bool isConst)
    {
        string space = BufferAddressSpace.Length == 0 ? "" : BufferAddressSpace + " ";
        return $"{space}{(isConst ? ConstQualifier : "")}{StorageType(dtype)}*";
    }

    /// <summary>The storage type of one element.</summary>
    protected virtual string StorageType(DType dtype) => dtype switch
    {
        DType.F32 => FloatType,
        DType.F16 or DType.BF16 => HalfBitsType,
        DType.Bool => BoolType,
        _ => throw Unsupported(dtype),
    };

    /// <summary>An element read as f32.</summary>
    protected virtual string Load(DType dtype, string element) => dtype switch
    {
        DType.F32 => element,
        DType.F16 => $"{HelperPrefix}f16_to_f32({element})",
        DType.BF16 => $"{HelperPrefix}bf16_to_f32({element})",
        DType.Bool => $"({element} != 0 ? 1.0f : 0.0f)",
        _ => throw Unsupported(dtype),
    };

    /// <summary>An f32 value converted to the storage type.</summary>
    protected virtual string Store(DType dtype, string value) => dtype switch
    {
        DType.F32 => value,
        DType.F16 => $"{HelperPrefix}f32_to_f16({value})",
        DType.BF16 => $"{HelperPrefix}f32_to_bf16({value})",
        DType.Bool => $"({BoolType})({value} != 0.0f ? 1 : 0)",
        _ => throw Unsupported(dtype),
    };

    /// <summary>An f32 value rounded to <paramref name="dtype"/> and widened back (bool: 0 or 1 when converted from another dtype).</summary>
    protected virtual string Round(DType dtype, string value, bool castFromOther) => dtype switch
    {
        DType.F16 => $"{HelperPrefix}round_f16({value})",
        DType.BF16 => $"{HelperPrefix}round_bf16({value})",
        DType.Bool when castFromOther => ToBool(value),
        DType.F32 or DType.Bool => value,
        _ => throw Unsupported(dtype),
    };

    /// <summary>0 or 1 for zero or nonzero.</summary>
    protected static string ToBool(string value) => $"({value} != 0.0f ? 1.0f : 0.0f)";

    private static float Narrow(DType dtype, float value) => dtype switch
    {
        DType.F16 => (float)(Half)value,
        DType.BF16 => BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(value)),
        DType.Bool => value != 0 ? 1f : 0f,
        _ => value,
    };

    /// <summary>The error for a dtype the renderer does not handle.</summary>
    protected NotSupportedException Unsupported(DType dtype) =>
        new($"the {TargetName} renderer does not handle {dtype.TorchName()} elements");
}
