using System.Globalization;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// Reads an <see cref="ElementwiseSpec.Key"/> (or a <see cref="ReductionSpec.Key"/>) back into the spec it describes,
/// checking everything a kernel emitter relies on: known float-domain dtypes, input references in range, each op
/// elementwise with its arity of arguments (a reduction's one accumulator aside), every argument an earlier body op. A plan file's listing records each generated kernel's key, so a loader can
/// rebuild the kernels from it instead of loading embedded code; the key may therefore be hostile.
/// </summary>
internal static class ElementwiseSpecKey
{
    /// <summary>The most inputs, body ops and dimensions a parsed key may describe.</summary>
    public const int MaxInputs = 64, MaxBody = 4096, MaxRank = 16;

    private static readonly Dictionary<string, Op> OpsByName = Enum.GetValues<Op>()
        .Where(o => o.IsElementwise())
        .ToDictionary(o => o.Name(), StringComparer.Ordinal);

    private static readonly Dictionary<string, Op> AccumulatorsByName = Enum.GetValues<Op>()
        .Where(ReductionSpec.IsAccumulator)
        .ToDictionary(o => o.Name(), StringComparer.Ordinal);

    private static readonly Dictionary<string, DType> DTypesByName = Enum.GetValues<DType>()
        .Where(ElementwiseSpec.IsFloatDomain)
        .ToDictionary(d => d.TorchName(), StringComparer.Ordinal);

    /// <summary>Parses <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is malformed or describes no valid kernel; the message says why.</exception>
    public static ElementwiseSpec Parse(string key)
    {
        var rest = key.AsSpan();
        Expect(ref rest, "ew r");
        int rank = Int(Until(ref rest, ' '), "rank");
        if (rank is < 0 or > MaxRank) throw new FormatException($"rank {rank} is outside [0, {MaxRank}]");
        int alsoAt = rest.IndexOf(" also=[", StringComparison.Ordinal);
        var alsoText = alsoAt < 0 ? [] : rest[(alsoAt + 7)..];
        if (alsoAt >= 0) rest = rest[..alsoAt];
        var (inputs, body, outDType) = Parts(ref rest, accumulators: false);
        return new ElementwiseSpec(inputs, body, outDType, rank) { Stores = alsoAt < 0 ? [] : Stores(alsoText, body) };
    }

    // "dtype@op, dtype@op]": the further outputs of a multi-output kernel, each an earlier body op of that dtype.
    private static List<ElementwiseStore> Stores(ReadOnlySpan<char> text, List<BodyOp> body)
    {
        if (!text.EndsWith("]", StringComparison.Ordinal)) throw new FormatException("the further outputs' list is not closed");
        var stores = new List<ElementwiseStore>();
        foreach (string item in text[..^1].ToString().Split(", "))
        {
            if (stores.Count == MaxInputs) throw new FormatException($"more than {MaxInputs} further outputs");
            int at = item.IndexOf('@', StringComparison.Ordinal);
            if (at < 0) throw new FormatException($"further output '{item}' is not dtype@op");
            var dt = DTypeOf(item[..at]);
            int op = Int(item.AsSpan(at + 1), "further output's op");
            if (op < 0 || op >= body.Count) throw new FormatException($"further output '{item}' names body op {op} of {body.Count}");
            if (body[op].DType != dt) throw new FormatException($"further output '{item}' stores body op {op} of {body[op].DType.TorchName()} as {dt.TorchName()}");
            stores.Add(new ElementwiseStore(op, dt));
        }

        return stores;
    }

    /// <summary>Parses a generated reduction's <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is malformed or describes no valid kernel; the message says why.</exception>
    public static ReductionSpec ParseReduction(string key)
    {
        var rest = key.AsSpan();
        Expect(ref rest, "red r");
        int rank = Int(Until(ref rest, ' '), "rank");
        if (rank is < 2 or > MaxRank) throw new FormatException($"rank {rank} is outside [2, {MaxRank}]");
        Expect(ref rest, "q");
        int reduced = Int(Until(ref rest, ' '), "reduced rank");
        if (reduced < 1 || reduced >= rank) throw new FormatException($"reduced rank {reduced} is outside [1, {rank - 1}]");
        var strategy = Until(ref rest, ' ') switch
        {
            "rows" => ReductionStrategy.Rows,
            "columns" => ReductionStrategy.Columns,
            var other => throw new FormatException($"unknown reduction strategy '{other}'"),
        };
        var (inputs, body, outDType) = Parts(ref rest, accumulators: true);
        int[] at = [.. Enumerable.Range(0, body.Count).Where(b => ReductionSpec.IsAccumulator(body[b].Op))];
        if (at.Length != 1) throw new FormatException($"a reduction has {at.Length} accumulators, not 1");
        if (body.Take(at[0]).Any(o => o.Args.Any(x => x >= at[0]))) throw new FormatException("a producer op reads the accumulator");
        if (body.Skip(at[0] + 1).Any(o => o.Args.Any(x => x < at[0] && body[x].Op != Op.Full))) throw new FormatException("a consumer op reads a producer op other than a constant");
        return new ReductionSpec(inputs, body, at[0], outDType, rank - reduced, reduced, strategy);
    }

    /// <summary>Parses a generated row reduction's with a broadcast consumer <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is malformed or describes no valid kernel; the message says why.</exception>
    public static BroadcastReductionSpec ParseBroadcastReduction(string key)
    {
        var rest = key.AsSpan();
        Expect(ref rest, "bred r");
        int rank = Int(Until(ref rest, ' '), "rank");
        if (rank is < 2 or > MaxRank) throw new FormatException($"rank {rank} is outside [2, {MaxRank}]");
        Expect(ref rest, "q");
        int reduced = Int(Until(ref rest, ' '), "reduced rank");
        if (reduced < 1 || reduced >= rank) throw new FormatException($"reduced rank {reduced} is outside [1, {rank - 1}]");
        var (inputs, body, outDType) = Parts(ref rest, accumulators: true);
        if (!body.Any(o => ReductionSpec.IsAccumulator(o.Op))) throw new FormatException("a broadcast reduction has no accumulator");
        if (ReductionSpec.IsAccumulator(body[^1].Op)) throw new FormatException("a broadcast reduction's result is an accumulator");
        return new BroadcastReductionSpec(inputs, body, outDType, rank - reduced, reduced);
    }

    private static (List<ElementwiseInput> Inputs, List<BodyOp> Body, DType OutDType) Parts(ref ReadOnlySpan<char> rest, bool accumulators)
    {
        Expect(ref rest, "out=");
        var outDType = DTypeOf(Until(ref rest, ' ').ToString());
        Expect(ref rest, "in=[");
        string inputsText = Until(ref rest, ']').ToString();
        Expect(ref rest, " body=[");
        if (!rest.EndsWith("]", StringComparison.Ordinal)) throw new FormatException("the body list is not closed");
        string bodyText = rest[..^1].ToString();

        var inputs = new List<ElementwiseInput>();
        foreach (string item in inputsText.Length == 0 ? [] : inputsText.Split(", "))
        {
            if (inputs.Count == MaxInputs) throw new FormatException($"more than {MaxInputs} inputs");
            int colon = item.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) throw new FormatException($"input '{item}' is not dtype:access");
            var access = item[(colon + 1)..] switch
            {
                "contiguous" => InnerAccess.Contiguous,
                "broadcast" => InnerAccess.Broadcast,
                "strided" => InnerAccess.Strided,
                var other => throw new FormatException($"unknown access '{other}'"),
            };
            inputs.Add(new ElementwiseInput(DTypeOf(item[..colon]), access));
        }

        var body = new List<BodyOp>();
        foreach (string item in bodyText.Length == 0 ? [] : bodyText.Split("; "))
        {
            if (body.Count == MaxBody) throw new FormatException($"more than {MaxBody} body ops");
            body.Add(BodyOpOf(item, inputs, body.Count, accumulators));
        }

        if (body.Count == 0) throw new FormatException("the body is empty");
        return (inputs, body, outDType);
    }

    private static BodyOp BodyOpOf(string item, List<ElementwiseInput> inputs, int index, bool accumulators)
    {
        if (item.StartsWith("in", StringComparison.Ordinal) && item.Length > 2 && char.IsAsciiDigit(item[2]))
        {
            int k = Int(item.AsSpan(2), "input index");
            if (k >= inputs.Count) throw new FormatException($"body op {index} reads input {k} of {inputs.Count}");
            return new BodyOp(Op.Input, inputs[k].DType, [], Input: k);
        }

        int open = item.IndexOf('(', StringComparison.Ordinal);
        if (open < 0)
        {
            if (!double.TryParse(item, NumberStyles.Float, CultureInfo.InvariantCulture, out double constant))
            {
                throw new FormatException($"body op {index} '{item}' is neither an input, a constant nor an op");
            }

            return new BodyOp(Op.Full, DType.F32, [], Constant: constant);
        }

        if (!item.EndsWith(')')) throw new FormatException($"body op {index} '{item}' has no closing parenthesis");
        string head = item[..open];
        int colon = head.LastIndexOf(':');
        if (colon < 0) throw new FormatException($"body op {index} '{item}' is not op:dtype(args)");
        if (!OpsByName.TryGetValue(head[..colon], out var op) && !(accumulators && AccumulatorsByName.TryGetValue(head[..colon], out op)))
        {
            throw new FormatException($"body op {index}: unknown elementwise op '{head[..colon]}'");
        }

        var dtype = DTypeOf(head[(colon + 1)..]);
        if (ReductionSpec.IsAccumulator(op) && dtype == DType.Bool) throw new FormatException($"body op {index} ({op.Name()}) accumulates into bool");
        string argsText = item[(open + 1)..^1];
        int[] args = argsText.Length == 0 ? [] : argsText.Split(',').Select(a => Int(a, "argument")).ToArray();
        int arity = op.IsUnary() || ReductionSpec.IsAccumulator(op) ? 1 : op.IsBinary() ? 2 : op == Op.Where ? 3 : -1;
        if (args.Length != arity) throw new FormatException($"body op {index} ({op.Name()}) has {args.Length} arguments, not {arity}");
        foreach (int a in args)
        {
            if (a >= index) throw new FormatException($"body op {index} ({op.Name()}) reads op {a}, which is not an earlier op");
        }

        return new BodyOp(op, dtype, args);
    }

    private static DType DTypeOf(string name) =>
        DTypesByName.TryGetValue(name, out var dt) ? dt : throw new FormatException($"'{name}' is not a dtype generated kernels compute in");

    private static int Int(ReadOnlySpan<char> text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw new FormatException($"{what} '{text}' is not a non-negative integer");

    private static void Expect(ref ReadOnlySpan<char> rest, string prefix)
    {
        if (!rest.StartsWith(prefix, StringComparison.Ordinal)) throw new FormatException($"expected '{prefix}' at '{Clip(rest)}'");
        rest = rest[prefix.Length..];
    }

    private static ReadOnlySpan<char> Until(ref ReadOnlySpan<char> rest, char end)
    {
        int at = rest.IndexOf(end);
        if (at < 0) throw new FormatException($"expected '{end}' in '{Clip(rest)}'");
        var head = rest[..at];
        rest = rest[(at + 1)..];
        return head;
    }

    private static string Clip(ReadOnlySpan<char> text) => text.Length <= 40 ? text.ToString() : text[..40].ToString() + "…";
}
