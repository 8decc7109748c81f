using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;

namespace Candle.Compiler.Visualization;

/// <summary>
/// A pass instrument that writes the graph after every pass into a directory: <c>NN-pass.txt</c> (IR text),
/// <c>NN-pass.dot</c> and, when Graphviz is installed and <see cref="RenderSvg"/> is on, <c>NN-pass.svg</c>;
/// the input graph as <c>00-input.*</c>; and <see cref="WriteSummary"/> writes <c>summary.txt</c> (nodes and kernels
/// per pass, pass times).
/// </summary>
public sealed class DumpInstrument : IPassInstrument
{
    private int _index;
    private bool _wroteInput;

    /// <summary>Creates the instrument writing into <paramref name="directory"/> (created if missing).</summary>
    public DumpInstrument(string directory, bool renderSvg = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory = directory;
        RenderSvg = renderSvg;
        System.IO.Directory.CreateDirectory(directory);
    }

    /// <summary>The output directory.</summary>
    public string Directory { get; }

    /// <summary>Whether to render SVG files with Graphviz when it is installed.</summary>
    public bool RenderSvg { get; }

    /// <summary>Files written so far.</summary>
    public IList<string> Files { get; } = [];

    /// <inheritdoc/>
    public void BeforePass(IPass pass, Graph graph, PassContext context)
    {
        if (_wroteInput) return;
        _wroteInput = true;
        Write("00-input", graph);
    }

    /// <inheritdoc/>
    public void AfterPass(IPass pass, Graph before, Graph after, PassRecord record, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(pass);
        _index++;
        Write($"{_index.ToString("D2", CultureInfo.InvariantCulture)}-{pass.Info.Name}", after);
    }

    /// <summary>Writes <c>summary.txt</c> from the context's report and returns its path.</summary>
    public string WriteSummary(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string path = Path.Combine(Directory, "summary.txt");
        File.WriteAllText(path, context.Report.ToString(), Encoding.UTF8);
        Files.Add(path);
        return path;
    }

    private void Write(string stem, Graph graph)
    {
        string txt = Path.Combine(Directory, stem + ".txt");
        File.WriteAllText(txt, IrPrinter.Print(graph), Encoding.UTF8);
        Files.Add(txt);
        string dot = GraphDot.ToDot(graph, stem);
        string dotPath = Path.Combine(Directory, stem + ".dot");
        File.WriteAllText(dotPath, dot, Encoding.UTF8);
        Files.Add(dotPath);
        if (RenderSvg)
        {
            string svg = Path.Combine(Directory, stem + ".svg");
            if (GraphDot.TryRenderSvg(dot, svg)) Files.Add(svg);
        }
    }
}
