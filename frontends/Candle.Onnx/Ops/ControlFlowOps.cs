using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Control flow resolved at import, since the IR is a dataflow graph: If with a condition known at import imports only
/// the branch taken, otherwise both branches and a select per output (outputs of equal shape); Loop is unrolled while its
/// trip count and condition are known at import (the iteration number is a known scalar, so slices by it fold); Scan is
/// unrolled over its constant sequence length (opset 8's batch axis included), scan outputs stacked along their axes in
/// their directions. A loop whose termination depends on run-time data is refused naming it. Every body copy is charged
/// to the import's budget (<see cref="ImportBudget"/>), so nested loops cannot unroll without bound.
/// </summary>
internal static class ControlFlowOps
{
    /// <summary>The most iterations unrolled.</summary>
    private const int MaxIterations = 4096;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["If"] = If;
        t["Loop"] = Loop;
        t["Scan"] = Scan;
    }

    /// <summary>A boolean scalar known at import, or null.</summary>
    private static bool? Known(OnnxValue v)
    {
        if (v.Known is [{ IsConstant: true } d]) return d.Value != 0;
        return v.Node is { } node && node.Shape.Numel.TryGetConstant() == 1 && NodeImport.ConstantInts(node) is [long value] ? value != 0 : null;
    }

    /// <summary>Imports one copy of a body; every copy and its nodes, nested bodies included, are charged to the import budget.</summary>
    private static OnnxValue[] Body(NodeImport n, string attribute, IReadOnlyList<OnnxValue> inputs) => n.Body(attribute, inputs);

    private static OnnxValue[] If(NodeImport n)
    {
        var cond = n.Value(0);
        if (Known(cond) is { } taken) return Body(n, taken ? "then_branch" : "else_branch", []);
        var then = Body(n, "then_branch", []);
        var otherwise = Body(n, "else_branch", []);
        if (then.Length != otherwise.Length) throw n.Import($"the branches have {then.Length} and {otherwise.Length} outputs");
        var c = Reshape(Cast(n.Input(0), DType.Bool), Shape.Scalar);
        var results = new OnnxValue[then.Length];
        for (int i = 0; i < then.Length; i++)
        {
            Node a = then[i].Node ?? throw n.Import($"then_branch output {i} is {(then[i].Known is null ? then[i].Kind : "a symbolic shape")}; a condition known only at run time needs tensors"),
                b = otherwise[i].Node ?? throw n.Import($"else_branch output {i} is {(otherwise[i].Known is null ? otherwise[i].Kind : "a symbolic shape")}; a condition known only at run time needs tensors");
            if (a.DType != b.DType || !a.Shape.Equals(b.Shape))
            {
                throw n.Import($"output {i} is {a.TypeString} in then_branch and {b.TypeString} in else_branch; a condition known only at run time needs equal types and shapes");
            }

            results[i] = new OnnxValue(Where(c, a, b));
        }

        return results;
    }

    private static OnnxValue[] Loop(NodeImport n)
    {
        long? trips = n.HasInput(0) ? n.ConstInts(0, "the trip count M") is [long m] ? m : throw n.Import("M must be a scalar") : null;
        bool? cond = n.HasInput(1) ? Known(n.Value(1)) ?? throw n.Import("the loop condition is computed at run time; only loops whose trip count and condition are known at import are unrolled") : null;
        if (trips is null && cond is null) throw n.Import("has neither a trip count nor a condition (an endless loop)");
        int carried = n.InputCount - 2;
        var state = Enumerable.Range(2, carried).Select(n.Value).ToArray();
        var scans = new List<List<Node>>();
        int scanCount = -1;
        // A trip count with the condition passed through unchanged runs exactly that many iterations: reserve them all.
        var body = n.Proto.Attribute.FirstOrDefault(a => a.Name == "body")?.G ?? throw n.Import("needs graph attribute 'body'");
        bool exact = trips is > 0 && (!n.HasInput(1) || cond == true) && UnrollReservation.PassesConditionThrough(body);
        if (exact && trips > MaxIterations) throw n.Import($"runs {trips} iterations, more than the {MaxIterations} unrolled");
        var reservation = new UnrollReservation(n, exact ? trips!.Value : 0, body, "iterations");
        for (long i = 0; (trips is null || i < trips) && cond != false; i++)
        {
            if (i >= MaxIterations) throw n.Import($"runs more than {MaxIterations} iterations, the most unrolled");
            reservation.Begin();
            var outputs = Body(n, "body", [OnnxValue.FromDims([Dim.Of(i)], scalar: true), new OnnxValue(Constant(HostTensor.FromArray(new[] { true }, []))), .. state]);
            reservation.End();
            if (outputs.Length < 1 + carried) throw n.Import($"body has {outputs.Length} outputs for {carried} loop-carried values");
            if (n.HasInput(1) || outputs[0].Node is not null)
            {
                cond = Known(outputs[0]) ?? throw n.Import($"the body's condition is computed at run time (iteration {i}); only loops whose condition is known at import are unrolled");
            }

            state = outputs[1..(1 + carried)];
            scanCount = outputs.Length - 1 - carried;
            for (int k = 0; k < scanCount; k++)
            {
                if (scans.Count <= k) scans.Add([]);
                scans[k].Add(outputs[1 + carried + k].Node ?? throw n.Import($"scan output {k} is a symbolic shape"));
            }
        }

        reservation.Finish();
        if (scanCount < 0 && n.OutputCount > carried) throw n.Import("runs no iteration, so its scan outputs have no known shape");
        return [.. state, .. scans.Select(list => new OnnxValue(Stack(list, 0)))];
    }

    private static OnnxValue[] Scan(NodeImport n)
    {
        long scanInputs = n.Attrs.Int("num_scan_inputs");
        if (n.Opset < 9)
        {
            // Opset 8: a leading batch axis on every input and output, an optional sequence_lens first.
            if (n.HasInput(0)) throw n.Import("sequence_lens is not supported");
            var values = Enumerable.Range(1, n.InputCount - 1).Select(n.Input).ToArray();
            long batch = values[0].Shape[0].TryGetConstant() ?? throw n.Import($"needs a constant batch size, got {values[0].Shape}");
            long[] directions = n.Attrs.Ints("directions") ?? new long[scanInputs];
            var perBatch = new List<OnnxValue[]>();
            for (long b = 0; b < batch; b++)
            {
                perBatch.Add(Unrolled(n, [.. values.Select(v => Select(v, 0, b))], scanInputs, new long[scanInputs], directions, null, null));
            }

            return [.. Enumerable.Range(0, perBatch[0].Length).Select(k => new OnnxValue(Stack(perBatch.Select(r => r[k].Node!), 0)))];
        }

        return Unrolled(n, [.. Enumerable.Range(0, n.InputCount).Select(n.Input)], scanInputs, n.Attrs.Ints("scan_input_axes"), n.Attrs.Ints("scan_input_directions"),
            n.Attrs.Ints("scan_output_axes"), n.Attrs.Ints("scan_output_directions"));
    }

    /// <summary>Scan over <paramref name="inputs"/> (states, then scan inputs): the body once per step, states threaded, scan outputs stacked.</summary>
    private static OnnxValue[] Unrolled(NodeImport n, Node[] inputs, long scanInputs, long[]? inAxes, long[]? inDirections, long[]? outAxes, long[]? outDirections)
    {
        int states = inputs.Length - (int)scanInputs;
        if (scanInputs < 1 || states < 0) throw n.Import($"num_scan_inputs {scanInputs} does not fit {inputs.Length} inputs");
        var scanned = inputs[states..];
        var axes = new int[scanned.Length];
        long steps = -1;
        for (int j = 0; j < scanned.Length; j++)
        {
            axes[j] = n.Axis(inAxes is { } a && j < a.Length ? a[j] : 0, scanned[j].Shape.Rank, "scan_input_axes entry");
            long len = scanned[j].Shape[axes[j]].TryGetConstant() ?? throw n.Import($"needs a constant sequence length, got scan input {j} {scanned[j].Shape}");
            if (steps >= 0 && len != steps) throw n.Import($"scan inputs have sequence lengths {steps} and {len}");
            steps = len;
        }

        if (steps < 1 || steps > MaxIterations) throw n.Import($"sequence length {steps} is outside 1 to {MaxIterations}");
        var state = inputs[..states].Select(v => new OnnxValue(v)).ToArray();
        var scans = new List<Node[]>();
        var body = n.Proto.Attribute.FirstOrDefault(a => a.Name == "body")?.G ?? throw n.Import("needs graph attribute 'body'");
        var reservation = new UnrollReservation(n, steps, body, "steps");
        for (long i = 0; i < steps; i++)
        {
            var slices = scanned.Select((x, j) => new OnnxValue(Select(x, axes[j], inDirections is { } d && j < d.Length && d[j] != 0 ? steps - 1 - i : i)));
            reservation.Begin();
            var outputs = Body(n, "body", [.. state, .. slices]);
            reservation.End();
            if (outputs.Length < states) throw n.Import($"body has {outputs.Length} outputs for {states} states");
            state = outputs[..states];
            for (int k = 0; k < outputs.Length - states; k++)
            {
                if (scans.Count <= k) scans.Add(new Node[steps]);
                bool reverse = outDirections is { } od && k < od.Length && od[k] != 0;
                scans[k][reverse ? steps - 1 - i : i] = outputs[states + k].Node ?? throw n.Import($"scan output {k} is a symbolic shape");
            }
        }

        reservation.Finish();
        var stacked = scans.Select((list, k) =>
        {
            int rank = list[0].Shape.Rank + 1;
            return new OnnxValue(Stack(list, n.Axis(outAxes is { } oa && k < oa.Length ? oa[k] : 0, rank, "scan_output_axes entry")));
        });
        return [.. state, .. stacked];
    }
}
