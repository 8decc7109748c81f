using System.CommandLine;
using Candle.Compiler.Passes;
using Candle.Compiler.Visualization;
using Candle.Transformers.Models;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle graph &lt;model&gt; --opt O2 --out DIR</c>: the model's graph after every pass as Graphviz DOT
/// (and SVG where <c>dot</c> is installed) and IR text, plus a summary of nodes, kernels and times per pass.
/// </summary>
internal static class GraphCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory");
        var opt = new Option<string>("--opt") { Description = "optimization level O0..O3", DefaultValueFactory = _ => "O2" };
        var output = new Option<string>("--out") { Description = "directory for the pictures and the summary", Required = true };
        var noSvg = new Option<bool>("--no-svg") { Description = "write DOT only, even where Graphviz is installed" };
        var cmd = new Command("graph", "Write the model's graph after every optimization pass") { model.Argument, model.Option, opt, output, noSvg };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            int level = ParseOptLevel(pr.GetValue(opt)!);
            var m = ModelRegistry.Load(model.Resolve(pr));
            var graph = m.TraceForward();
            string dir = pr.GetValue(output)!;
            Directory.CreateDirectory(dir);
            var dump = new DumpInstrument(dir, renderSvg: !pr.GetValue(noSvg));
            var pctx = new PassContext(level) { VerifyEachPass = true };
            pctx.Instruments.Add(dump);
            PassManager.CreateDefault().Run(graph, pctx);
            string summary = dump.WriteSummary(pctx);
            ctx.Out.Write(File.Exists(summary) ? File.ReadAllText(summary) : summary);
            ctx.Out.WriteLine($"wrote {dump.Files.Count} files to {dir}");
            return 0;
        }));
        return cmd;
    }

    internal static int ParseOptLevel(string text) => text.TrimStart('O', 'o') switch
    {
        "0" => 0,
        "1" => 1,
        "2" => 2,
        "3" => 3,
        _ => throw new ArgumentException($"--opt must be O0, O1, O2 or O3, got '{text}'"),
    };
}
