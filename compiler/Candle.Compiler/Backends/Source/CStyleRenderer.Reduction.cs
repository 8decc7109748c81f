using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// Generated reductions (<see cref="ReductionSpec"/>, the kernel IR the IL emitter reads) on the C-style base: one
/// output per index of the range, its outer index unraveled once, the producer evaluated over the reduced space into
/// the accumulator, then the consumer. Along rows, the IL kernels' vector accumulators are followed lane by lane (the
/// renderer's <c>lanes</c>, the IL kernel's vector width in floats; 1 folds in plain order), so that a renderer whose
/// op templates are the op definitions' width-one forms (C#) computes the IL kernel's bits.
/// </summary>
internal abstract partial class CStyleRenderer
{
    /// <summary>The function of one generated reduction over the IL kernels' arguments.</summary>
    /// <param name="name">The function's name.</param>
    /// <param name="spec">The reduction.</param>
    /// <param name="lanes">The vector width in floats whose accumulation order is followed (1: plain order).</param>
    /// <exception cref="NotSupportedException">A body op has no template, or a dtype is outside the float domain.</exception>
    public string ReductionKernel(string name, ReductionSpec spec, int lanes)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(lanes, 1);
        int n = spec.Inputs.Count, rank = spec.Rank, p = spec.OuterRank;
        int shapeAt = 1 + n;
        string Stride(int k, int d) => Argument(shapeAt + rank + (k * (1 + rank)) + 1 + d);
        string Shape(int d) => Argument(shapeAt + d);
        string ix = IndexType, f = FloatType;
        string Fold(string acc, string value) => Expression(ReductionSpec.Combine(spec.Accumulator), [acc, value]);
        string identity = Literal(ReductionSpec.Identity(spec.Accumulator));

        var sb = new StringBuilder();
        sb.Append(ReductionFunctionHead(name, spec)).Append("\n{\n");
        string outPtr = Pointer(spec.OutDType, isConst: false);
        sb.Append(CultureInfo.InvariantCulture, $"    {outPtr} {OutputVariable} = ({outPtr}){SlotAddress(0)};\n");
        for (int k = 0; k < n; k++)
        {
            string ptr = Pointer(spec.Inputs[k].DType, isConst: true);
            sb.Append(CultureInfo.InvariantCulture, $"    {ptr} in{k} = ({ptr}){SlotAddress(1 + k)};\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"    for ({ix} i = start; i < end; i++)\n    {{\n");
        const string I = "        ";

        // Unravels `flat` over dims last..first into the offsets `to{k}` (starting from `from{k}`).
        void Unravel(string indent, string flat, string from, string to, int first, int last, string tag)
        {
            for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"{indent}{ix} {to}{k} = {from}{k};\n");
            sb.Append(CultureInfo.InvariantCulture, $"{indent}{ix} rem{tag} = {flat};\n");
            for (int d = last; d >= first; d--)
            {
                string cd = $"c{tag}{d}";
                if (d > first)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{indent}{ix} {cd} = rem{tag} % {Shape(d)};\n{indent}rem{tag} = rem{tag} / {Shape(d)};\n");
                }
                else
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{indent}{ix} {cd} = rem{tag};\n");
                }

                for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"{indent}{to}{k} += {cd} * {Stride(k, d)};\n");
            }
        }

        for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"{I}{ix} z{k} = {Argument(shapeAt + rank + (k * (1 + rank)))};\n");
        Unravel(I, "i", "z", "o", 0, p - 1, "o");
        sb.Append(CultureInfo.InvariantCulture, $"{I}{f} acc = {identity};\n");

        // The producer at element offsets e{k}, folded into `acc`.
        void Producer(string indent, string acc)
        {
            for (int b = 0; b < spec.ReduceAt; b++) sb.Append(indent).Append(Value(spec, b, "v", "e")).Append('\n');
            sb.Append(CultureInfo.InvariantCulture, $"{indent}{acc} = {Fold(acc, $"v{spec.Body[spec.ReduceAt].Args[0]}")};\n");
        }

        if (spec.Strategy == ReductionStrategy.Rows)
        {
            int accs = lanes == 1 ? 0 : ReductionSpec.RowAccumulators * lanes;
            for (int a = 0; a < accs; a++) sb.Append(CultureInfo.InvariantCulture, $"{I}{f} a{a} = {identity};\n");
            sb.Append(CultureInfo.InvariantCulture, $"{I}{ix} inner = {Shape(rank - 1)};\n{I}{ix} rows = 1");
            for (int d = p; d < rank - 1; d++) sb.Append(" * ").Append(Shape(d));
            sb.Append(CultureInfo.InvariantCulture, $";\n{I}for ({ix} rr = 0; rr < rows; rr++)\n{I}{{\n");
            const string J = I + "    ";
            if (rank - 1 > p)
            {
                Unravel(J, "rr", "o", "b", p, rank - 2, "r");
            }
            else
            {
                for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"{J}{ix} b{k} = o{k};\n");
            }

            sb.Append(CultureInfo.InvariantCulture, $"{J}{ix} j = 0;\n");
            void Element(string indent, string index, string acc)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{indent}{{\n");
                for (int k = 0; k < n; k++) sb.Append(CultureInfo.InvariantCulture, $"{indent}    {ix} e{k} = b{k} + ({index}) * {Stride(k, rank - 1)};\n");
                Producer(indent + "    ", acc);
                sb.Append(CultureInfo.InvariantCulture, $"{indent}}}\n");
            }

            if (lanes > 1)
            {
                int block = ReductionSpec.RowAccumulators * lanes;
                sb.Append(CultureInfo.InvariantCulture, $"{J}for (; j + {block} <= inner; j += {block})\n{J}{{\n");
                for (int a = 0; a < block; a++) Element(J + "    ", $"j + {a}", $"a{a}");
                sb.Append(CultureInfo.InvariantCulture, $"{J}}}\n{J}for (; j + {lanes} <= inner; j += {lanes})\n{J}{{\n");
                for (int l = 0; l < lanes; l++) Element(J + "    ", $"j + {l}", $"a{l}");
                sb.Append(CultureInfo.InvariantCulture, $"{J}}}\n");
            }

            sb.Append(CultureInfo.InvariantCulture, $"{J}for (; j < inner; j++)\n{J}{{\n");
            Element(J + "    ", "j", "acc");
            sb.Append(CultureInfo.InvariantCulture, $"{J}}}\n{I}}}\n");
            if (lanes > 1)
            {
                // The vector accumulators pairwise, then lane by lane into the tail's accumulator.
                for (int step = 1; step < ReductionSpec.RowAccumulators; step *= 2)
                {
                    for (int u = 0; u + step < ReductionSpec.RowAccumulators; u += 2 * step)
                    {
                        for (int l = 0; l < lanes; l++)
                        {
                            string x = $"a{(u * lanes) + l}", y = $"a{((u + step) * lanes) + l}";
                            sb.Append(CultureInfo.InvariantCulture, $"{I}{x} = {Fold(x, y)};\n");
                        }
                    }
                }

                for (int l = 0; l < lanes; l++) sb.Append(CultureInfo.InvariantCulture, $"{I}acc = {Fold("acc", $"a{l}")};\n");
            }
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $"{I}{ix} total = 1");
            for (int d = p; d < rank; d++) sb.Append(" * ").Append(Shape(d));
            sb.Append(CultureInfo.InvariantCulture, $";\n{I}for ({ix} r = 0; r < total; r++)\n{I}{{\n");
            Unravel(I + "    ", "r", "o", "e", p, rank - 1, "r");
            Producer(I + "    ", "acc");
            sb.Append(CultureInfo.InvariantCulture, $"{I}}}\n");
        }

        // The accumulator's value (a mean divided by the reduced count), then the consumer at the outer offsets.
        string result = "acc";
        if (spec.Accumulator == Op.Mean)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{I}{ix} count = 1");
            for (int d = p; d < rank; d++) sb.Append(" * ").Append(Shape(d));
            sb.Append(";\n");
            result = Expression(Op.Div, ["acc", $"({f})count"]);
        }

        sb.Append(CultureInfo.InvariantCulture, $"{I}{f} w{spec.ReduceAt} = {Round(spec.Body[spec.ReduceAt].DType, result, castFromOther: false)};\n");
        for (int b = 0; b < spec.ReduceAt; b++)
        {
            if (spec.Body[b].Op == Op.Full && spec.Body.Skip(spec.ReduceAt + 1).Any(o => o.Args.Contains(b))) sb.Append(I).Append(Value(spec, b, "w", "o")).Append('\n');
        }

        for (int b = spec.ReduceAt + 1; b < spec.Body.Count; b++) sb.Append(I).Append(Value(spec, b, "w", "o")).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"{I}{OutputVariable}[i] = {Store(spec.OutDType, $"w{spec.Body.Count - 1}")};\n");
        sb.Append("    }\n}\n");
        return sb.ToString();
    }

    /// <summary>The function head of a generated reduction (no body); by default the elementwise kernels' head.</summary>
    protected virtual string ReductionFunctionHead(string name, ReductionSpec spec) => RowFunctionHead(name);

    // One body op as a declaration `{prefix}{b} = ...;`, inputs read at `{offset}{k}`.
    private string Value(ReductionSpec spec, int b, string prefix, string offset)
    {
        var op = spec.Body[b];
        string value = op.Op switch
        {
            Op.Input => Load(spec.Inputs[op.Input].DType, $"in{op.Input}[{offset}{op.Input}]"),
            Op.Full => Literal(Narrow(op.DType, (float)op.Constant)),
            Op.Cast => Round(op.DType, $"{prefix}{op.Args[0]}", castFromOther: true),
            _ when op.DType == DType.Bool && op.Op == Op.Add => ToBool(Expression(op.Op, [.. op.Args.Select(a => $"{prefix}{a}")])),
            _ => Round(op.DType, Expression(op.Op, [.. op.Args.Select(a => $"{prefix}{a}")]), castFromOther: false),
        };
        return $"{FloatType} {prefix}{b} = {value};";
    }
}
