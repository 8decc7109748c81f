using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// Generated row reductions with a broadcast consumer (<see cref="BroadcastReductionSpec"/>, the kernel IR the IL
/// emitter reads) on the C-style base: one row per index of the range, its outer index unraveled once; each reduction
/// pass walks the row folding its accumulators (the IL kernels' vector accumulators followed lane by lane for the
/// renderer's <c>lanes</c>, as <see cref="ReductionKernel"/> does), then computes the row values that depend on them;
/// the last pass evaluates the result at every element and stores it.
/// </summary>
internal abstract partial class CStyleRenderer
{
    /// <summary>The function of one generated row reduction with a broadcast consumer over the IL kernels' arguments.</summary>
    /// <param name="name">The function's name.</param>
    /// <param name="spec">The kernel.</param>
    /// <param name="lanes">The vector width in floats whose accumulation order is followed (1: plain order).</param>
    /// <exception cref="NotSupportedException">A body op has no template, or a dtype is outside the float domain.</exception>
    public string BroadcastReductionKernel(string name, BroadcastReductionSpec spec, int lanes)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(lanes, 1);
        var inv = CultureInfo.InvariantCulture;
        int n = spec.Inputs.Count, rank = spec.Rank, p = spec.OuterRank;
        int shapeAt = 1 + n;
        string Stride(int k, int d) => Argument(shapeAt + rank + (k * (1 + rank)) + 1 + d);
        string Shape(int d) => Argument(shapeAt + d);
        string ix = IndexType, f = FloatType;
        var accs = spec.Accumulators;
        int passes = spec.ReductionPasses;

        var sb = new StringBuilder();
        sb.Append(BroadcastReductionFunctionHead(name, spec)).Append("\n{\n");
        string outPtr = Pointer(spec.OutDType, isConst: false);
        sb.Append(inv, $"    {outPtr} {OutputVariable} = ({outPtr}){SlotAddress(0)};\n");
        for (int k = 0; k < n; k++)
        {
            string ptr = Pointer(spec.Inputs[k].DType, isConst: true);
            sb.Append(inv, $"    {ptr} in{k} = ({ptr}){SlotAddress(1 + k)};\n");
        }

        sb.Append(inv, $"    for ({ix} i = start; i < end; i++)\n    {{\n");
        const string I = "        ";

        void Unravel(string indent, string flat, string from, string to, int first, int last, string tag, IReadOnlySet<int>? only = null)
        {
            var ks = Enumerable.Range(0, n).Where(k => only?.Contains(k) ?? true).ToList();
            foreach (int k in ks) sb.Append(inv, $"{indent}{ix} {to}{k} = {from}{k};\n");
            sb.Append(inv, $"{indent}{ix} rem{tag} = {flat};\n");
            for (int d = last; d >= first; d--)
            {
                string cd = $"c{tag}{d}";
                if (d > first) sb.Append(inv, $"{indent}{ix} {cd} = rem{tag} % {Shape(d)};\n{indent}rem{tag} = rem{tag} / {Shape(d)};\n");
                else sb.Append(inv, $"{indent}{ix} {cd} = rem{tag};\n");
                foreach (int k in ks) sb.Append(inv, $"{indent}{to}{k} += {cd} * {Stride(k, d)};\n");
            }
        }

        for (int k = 0; k < n; k++) sb.Append(inv, $"{I}{ix} z{k} = {Argument(shapeAt + rank + (k * (1 + rank)))};\n");
        Unravel(I, "i", "z", "o", 0, p - 1, "o");
        sb.Append(inv, $"{I}{ix} inner = {Shape(rank - 1)};\n{I}{ix} rows = 1");
        for (int d = p; d < rank - 1; d++) sb.Append(" * ").Append(Shape(d));
        sb.Append(inv, $";\n{I}{ix} rowLength = rows * inner;\n");

        // One walk over the row: `element(indent, index expression, block position)` per element at offsets e{k}.
        void Sweep(IReadOnlyList<int> ops, Action<string, string, int> element, bool vectorOrder)
        {
            var read = ops.Where(b => spec.Body[b].Op == Op.Input).Select(b => spec.Body[b].Input).ToHashSet();
            sb.Append(inv, $"{I}for ({ix} rr = 0; rr < rows; rr++)\n{I}{{\n");
            const string J = I + "    ";
            if (rank - 1 > p) Unravel(J, "rr", "o", "b", p, rank - 2, "r", read);
            else foreach (int k in Enumerable.Range(0, n).Where(read.Contains)) sb.Append(inv, $"{J}{ix} b{k} = o{k};\n");
            sb.Append(inv, $"{J}{ix} j = 0;\n");
            void Element(string indent, string index, int position)
            {
                sb.Append(inv, $"{indent}{{\n");
                foreach (int k in Enumerable.Range(0, n).Where(read.Contains)) sb.Append(inv, $"{indent}    {ix} e{k} = b{k} + ({index}) * {Stride(k, rank - 1)};\n");
                element(indent + "    ", index, position);
                sb.Append(inv, $"{indent}}}\n");
            }

            if (vectorOrder && lanes > 1)
            {
                int block = ReductionSpec.RowAccumulators * lanes;
                sb.Append(inv, $"{J}for (; j + {block} <= inner; j += {block})\n{J}{{\n");
                for (int a = 0; a < block; a++) Element(J + "    ", $"j + {a}", a);
                sb.Append(inv, $"{J}}}\n{J}for (; j + {lanes} <= inner; j += {lanes})\n{J}{{\n");
                for (int l = 0; l < lanes; l++) Element(J + "    ", $"j + {l}", l);
                sb.Append(inv, $"{J}}}\n");
            }

            sb.Append(inv, $"{J}for (; j < inner; j++)\n{J}{{\n");
            Element(J + "    ", "j", -1);
            sb.Append(inv, $"{J}}}\n{I}}}\n");
        }

        void RowValues(int pass)
        {
            foreach (int b in spec.RowOps(pass)) sb.Append(I).Append(BroadcastValue(spec, b, "o")).Append('\n');
        }

        RowValues(-1);
        for (int pass = 0; pass < passes; pass++)
        {
            var level = accs.Where(a => spec.Level(a) == pass).ToList();
            var ops = spec.ElementOps(pass);
            foreach (int a in level)
            {
                string identity = Literal(ReductionSpec.Identity(spec.Body[a].Op));
                sb.Append(inv, $"{I}{f} acc{a} = {identity};\n");
                if (lanes > 1)
                {
                    for (int l = 0; l < ReductionSpec.RowAccumulators * lanes; l++) sb.Append(inv, $"{I}{f} acc{a}_{l} = {identity};\n");
                }
            }

            Sweep(
                ops,
                (indent, _, position) =>
                {
                    foreach (int b in ops) sb.Append(indent).Append(BroadcastValue(spec, b, "e")).Append('\n');
                    foreach (int a in level)
                    {
                        string acc = position < 0 ? $"acc{a}" : $"acc{a}_{position}";
                        sb.Append(inv, $"{indent}{acc} = {Expression(ReductionSpec.Combine(spec.Body[a].Op), [acc, ValueName(spec, spec.Body[a].Args[0])])};\n");
                    }
                },
                vectorOrder: true);
            foreach (int a in level)
            {
                var combine = ReductionSpec.Combine(spec.Body[a].Op);
                if (lanes > 1)
                {
                    for (int step = 1; step < ReductionSpec.RowAccumulators; step *= 2)
                    {
                        for (int u = 0; u + step < ReductionSpec.RowAccumulators; u += 2 * step)
                        {
                            for (int l = 0; l < lanes; l++)
                            {
                                string x = $"acc{a}_{(u * lanes) + l}", y = $"acc{a}_{((u + step) * lanes) + l}";
                                sb.Append(inv, $"{I}{x} = {Expression(combine, [x, y])};\n");
                            }
                        }
                    }

                    for (int l = 0; l < lanes; l++) sb.Append(inv, $"{I}acc{a} = {Expression(combine, [$"acc{a}", $"acc{a}_{l}"])};\n");
                }

                string result = spec.Body[a].Op == Op.Mean ? Expression(Op.Div, [$"acc{a}", $"({f})rowLength"]) : $"acc{a}";
                sb.Append(inv, $"{I}{f} w{a} = {Round(spec.Body[a].DType, result, castFromOther: false)};\n");
            }

            RowValues(pass);
        }

        var final = spec.ElementOps(passes);
        Sweep(
            final,
            (indent, index, _) =>
            {
                foreach (int b in final) sb.Append(indent).Append(BroadcastValue(spec, b, "e")).Append('\n');
                sb.Append(inv, $"{indent}{OutputVariable}[(i * rowLength) + (rr * inner) + ({index})] = {Store(spec.OutDType, ValueName(spec, spec.Body.Count - 1))};\n");
            },
            vectorOrder: false);
        sb.Append("    }\n}\n");
        return sb.ToString();
    }

    /// <summary>The function head of a generated row reduction with a broadcast consumer (no body); by default the elementwise kernels' head.</summary>
    protected virtual string BroadcastReductionFunctionHead(string name, BroadcastReductionSpec spec) => RowFunctionHead(name);

    // Row values are w{b} (once per row), values of the row's elements v{b}.
    private static string ValueName(BroadcastReductionSpec spec, int b) => (spec.IsRowValue(b) ? "w" : "v") + b.ToString(CultureInfo.InvariantCulture);

    // One body op as a declaration, inputs read at `{offset}{k}`.
    private string BroadcastValue(BroadcastReductionSpec spec, int b, string offset)
    {
        var op = spec.Body[b];
        string[] args = [.. op.Args.Select(a => ValueName(spec, a))];
        string value = op.Op switch
        {
            Op.Input => Load(spec.Inputs[op.Input].DType, $"in{op.Input}[{offset}{op.Input}]"),
            Op.Full => Literal(Narrow(op.DType, (float)op.Constant)),
            Op.Cast => Round(op.DType, args[0], castFromOther: true),
            _ when op.DType == DType.Bool && op.Op == Op.Add => ToBool(Expression(op.Op, args)),
            _ => Round(op.DType, Expression(op.Op, args), castFromOther: false),
        };
        return $"{FloatType} {ValueName(spec, b)} = {value};";
    }
}
