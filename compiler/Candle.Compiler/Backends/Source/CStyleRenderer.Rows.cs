using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Backends.Source;

/// <summary>Row kernels (reductions, softmax, norms) on the C-style base: the passes over a row and where threads combine.</summary>
internal abstract partial class CStyleRenderer
{
    /// <summary>How partial values of the threads of a row are combined.</summary>
    protected enum Combine
    {
        /// <summary>Addition.</summary>
        Sum,

        /// <summary>Multiplication.</summary>
        Product,

        /// <summary>NaN-propagating maximum.</summary>
        Max,

        /// <summary>NaN-propagating minimum.</summary>
        Min,
    }

    /// <summary>The function head of a row kernel (its parameters reach the slots through <see cref="SlotAddress"/> and the arguments through <see cref="Argument"/>).</summary>
    protected abstract string RowFunctionHead(string name);

    /// <summary>Statements that open the walk over rows, defining <c>row</c> (a loop, or the threadgroup's row).</summary>
    protected abstract string OpenRows();

    /// <summary>Statements that close what <see cref="OpenRows"/> opened.</summary>
    protected abstract string CloseRows();

    /// <summary>The head of the loop over a row's elements that one thread takes part in (index <c>j</c> over <c>n</c>).</summary>
    protected abstract string RowLoop();

    /// <summary>Statements after which every thread of the row holds in <paramref name="acc"/> the combination of all threads' values (none for one thread per row).</summary>
    protected abstract string AllReduce(string acc, Combine combine);

    /// <summary>The condition under which a thread writes a row's single result (<c>1</c> for one thread per row).</summary>
    protected abstract string SingleWriter { get; }

    /// <summary>The source of a row kernel.</summary>
    /// <exception cref="NotSupportedException">The op is not a row kernel op, or a dtype is outside the float domain.</exception>
    public string RowKernel(string name, RowKernelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!RowKernelSpec.Supports(spec.Op)) throw new NotSupportedException($"the {TargetName} renderer has no row kernel for op '{spec.Op.Name()}'");
        string f = FloatType, ix = IndexType;
        var sb = new StringBuilder();
        sb.Append(RowFunctionHead(name)).Append("\n{\n");
        string xp = Pointer(spec.XType, isConst: true), yp = Pointer(spec.YType, isConst: false), wp = Pointer(spec.YType, isConst: true);
        sb.Append(CultureInfo.InvariantCulture, $"    {xp} x = ({xp}){SlotAddress(0)};\n");
        if (spec.HasWeight) sb.Append(CultureInfo.InvariantCulture, $"    {wp} w = ({wp}){SlotAddress(1)};\n");
        if (spec.HasBias) sb.Append(CultureInfo.InvariantCulture, $"    {wp} bias = ({wp}){SlotAddress(2)};\n");
        sb.Append(CultureInfo.InvariantCulture, $"    {yp} y = ({yp}){SlotAddress(3)};\n");
        sb.Append(CultureInfo.InvariantCulture, $"    {ix} n = {Argument(5)};\n");
        sb.Append(OpenRows());
        const string I = "        ";
        string X(string j) => Load(spec.XType, $"x[row * n + {j}]");
        string Wj = spec.HasWeight ? Load(spec.YType, "w[j]") : "1.0f";
        string Bj = spec.HasBias ? Load(spec.YType, "bias[j]") : "0.0f";
        void Pass(string init, string update, string acc, Combine c)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{I}{f} {acc} = {init};\n{I}{RowLoop()}\n{I}{{\n{I}    {f} v = {X("j")};\n{I}    {update};\n{I}}}\n");
            sb.Append(AllReduce(acc, c));
        }

        void WriteRow(string value) => sb.Append(CultureInfo.InvariantCulture, $"{I}{RowLoop()}\n{I}{{\n{I}    {f} v = {X("j")};\n{I}    y[row * n + j] = {Store(spec.YType, value)};\n{I}}}\n");

        string p = HelperPrefix;
        switch (spec.Op)
        {
            case Op.Sum or Op.Mean:
                Pass("0.0f", "acc += v", "acc", Combine.Sum);
                sb.Append(CultureInfo.InvariantCulture, $"{I}if ({SingleWriter}) y[row] = {Store(spec.YType, spec.Op == Op.Mean ? $"acc / ({f})n" : "acc")};\n");
                break;
            case Op.Prod:
                Pass("1.0f", "acc *= v", "acc", Combine.Product);
                sb.Append(CultureInfo.InvariantCulture, $"{I}if ({SingleWriter}) y[row] = {Store(spec.YType, "acc")};\n");
                break;
            case Op.Max or Op.Min:
                string fn = spec.Op == Op.Max ? "maximum" : "minimum";
                Pass(spec.Op == Op.Max ? "(-INFINITY)" : "INFINITY", $"acc = {p}{fn}(acc, v)", "acc", spec.Op == Op.Max ? Combine.Max : Combine.Min);
                sb.Append(CultureInfo.InvariantCulture, $"{I}if ({SingleWriter}) y[row] = {Store(spec.YType, "acc")};\n");
                break;
            case Op.Softmax or Op.LogSoftmax:
                Pass("(-INFINITY)", $"mx = {p}maximum(mx, v)", "mx", Combine.Max);
                Pass("0.0f", $"s += {MathFunction("exp")}(v - mx)", "s", Combine.Sum);
                WriteRow(spec.Op == Op.Softmax ? $"{MathFunction("exp")}(v - mx) / s" : $"(v - mx) - {MathFunction("log")}(s)");
                break;
            case Op.RmsNorm:
                Pass("0.0f", "ss += v * v", "ss", Combine.Sum);
                sb.Append(CultureInfo.InvariantCulture, $"{I}{f} inv = 1.0f / {MathFunction("sqrt")}(ss / ({f})n + {Literal((float)spec.Eps)});\n");
                WriteRow($"(v * inv) * {Wj}");
                break;
            case Op.LayerNorm:
                Pass("0.0f", "s += v", "s", Combine.Sum);
                sb.Append(CultureInfo.InvariantCulture, $"{I}{f} mean = s / ({f})n;\n");
                Pass("0.0f", "d += (v - mean) * (v - mean)", "d", Combine.Sum);
                sb.Append(CultureInfo.InvariantCulture, $"{I}{f} inv = 1.0f / {MathFunction("sqrt")}(d / ({f})n + {Literal((float)spec.Eps)});\n");
                WriteRow($"((v - mean) * inv) * {Wj} + {Bj}");
                break;
        }

        sb.Append(CloseRows());
        sb.Append("}\n");
        return sb.ToString();
    }
}
