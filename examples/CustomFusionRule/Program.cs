using Candle.Compiler.Analysis;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Visualization;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CustomFusionRule;
using static Candle.Compiler.Ir.IrBuilder;

// A small MLP block as traced from PyTorch-style code, with swish written by hand:
//   h = x @ w1ᵀ + b1;  a = h * (1 / (1 + exp(-h)));  y = a @ w2ᵀ + x
var rng = new Random(1);
Node Weight(string name, int rows, int cols) =>
    Constant(HostTensor.FromArray([.. Enumerable.Range(0, rows * cols).Select(_ => (float)((rng.NextDouble() * 2) - 1) / 4)], rows, cols), name);

var x = Input("x", DType.F32, new Shape(Dim.Sym("seq"), 8));
var h = Linear(x, Weight("w1", 16, 8), Reshape(Weight("b1", 1, 16), 16));
var one = Scalar(1, DType.F32);
var swish = Binary(Op.Mul, h, Binary(Op.Div, one, Binary(Op.Add, Unary(Op.Exp, Unary(Op.Neg, h)), one)));
var y = Binary(Op.Add, Linear(swish, Weight("w2", 8, 16)), x);
var graph = new Graph([x], [y], ["y"]);

Console.WriteLine("== IR before ==");
Console.WriteLine(IrPrinter.Print(graph));

// The O2 pipeline with the user pass inserted by name, right after algebraic simplification.
var pipeline = PassManager.CreateDefault().InsertAfter("algebraic-simplification", new SwishRulePass());
var context = new PassContext(optLevel: 2) { VerifyEachPass = true };
if (args.Length > 0)
{
    // `dotnet run -- dumps/` writes the graph after every pass as IR text, DOT (and SVG with Graphviz).
    context.Instruments.Add(new DumpInstrument(args[0]));
}

var optimized = pipeline.Run(graph, context);

Console.WriteLine("== IR after O2 (with swish-to-silu) ==");
Console.WriteLine(IrPrinter.Print(optimized));
foreach (var fused in optimized.Nodes.Where(n => n.Op == Op.Fused))
{
    Console.WriteLine($"-- body of fused {fused.Attr<FusedAttrs>().Kind} --");
    Console.WriteLine(IrPrinter.Print(fused.Attr<FusedAttrs>().Body));
}

Console.WriteLine($"kernels: {KernelEstimate.Count(graph)} before, {KernelEstimate.Count(optimized)} after");
Console.WriteLine(context.Report);
if (args.Length > 0 && context.Instruments[0] is DumpInstrument dump) Console.WriteLine("summary: " + dump.WriteSummary(context));

// Same results as the unoptimized graph, per the reference interpreter.
var input = HostTensor.FromArray([.. Enumerable.Range(0, 5 * 8).Select(i => (float)Math.Sin(i))], 5, 8);
var expected = ReferenceInterpreter.Run(graph, [input])[0].ToFloat32();
var actual = ReferenceInterpreter.Run(optimized, [input])[0].ToFloat32();
double maxError = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
Console.WriteLine($"max |difference| vs. unoptimized: {maxError:G3}");
return maxError < 1e-4 ? 0 : 1;
