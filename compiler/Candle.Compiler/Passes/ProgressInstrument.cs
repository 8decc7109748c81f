using System.Diagnostics;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>Reports each pass that ran to a <see cref="CompileOptions.Progress"/> receiver.</summary>
internal sealed class ProgressInstrument(IProgress<CompileProgress> progress) : IPassInstrument
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _run;

    public void BeforePass(IPass pass, Graph graph, PassContext context)
    {
    }

    public void AfterPass(IPass pass, Graph before, Graph after, PassRecord record, PassContext context) =>
        progress.Report(new CompileProgress(CompilePhase.Pass, pass.Info.Name, ++_run, _clock.Elapsed, after.Nodes.Count, 0));
}
