using System.Diagnostics;
using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Visualization;

/// <summary>
/// Graphviz DOT for IR graphs: one box per node (op, attributes), edges labelled with the operand's type,
/// fused groups drawn as clusters holding their bodies, graph inputs and outputs highlighted.
/// </summary>
public static class GraphDot
{
    /// <summary>The DOT text of <paramref name="graph"/>.</summary>
    public static string ToDot(Graph graph, string name = "candle")
    {
        ArgumentNullException.ThrowIfNull(graph);
        var sb = new StringBuilder();
        sb.Append("digraph \"").Append(Escape(name)).Append("\" {\n");
        sb.Append("  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", fontsize=10];\n");
        sb.Append("  edge [fontname=\"Helvetica\", fontsize=8];\n");
        int counter = 0;
        Emit(sb, graph, "n", ref counter, "  ", out var ids);
        for (int i = 0; i < graph.Outputs.Length; i++)
        {
            string outId = $"out{i}";
            sb.Append(CultureInfo.InvariantCulture, $"  {outId} [label=\"{Escape(graph.OutputNames[i])}\", shape=oval, fillcolor=\"#d5f5d5\"];\n");
            sb.Append(CultureInfo.InvariantCulture, $"  {ids[graph.Outputs[i]]} -> {outId} [label=\"{Escape(graph.Outputs[i].TypeString)}\"];\n");
        }

        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>
    /// Renders <paramref name="dot"/> to an SVG file with Graphviz's <c>dot -Tsvg</c>. Returns false (and writes
    /// nothing) when Graphviz is not installed or fails.
    /// </summary>
    public static bool TryRenderSvg(string dot, string path)
    {
        ArgumentNullException.ThrowIfNull(dot);
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            var psi = new ProcessStartInfo("dot", ["-Tsvg", "-o", path])
            {
                RedirectStandardInput = true,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(psi);
            if (p is null) return false;
            p.StandardInput.Write(dot);
            p.StandardInput.Close();
            _ = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(60_000))
            {
                p.Kill(entireProcessTree: true);
                return false;
            }

            return p.ExitCode == 0 && File.Exists(path);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static void Emit(StringBuilder sb, Graph graph, string prefix, ref int counter, string indent, out Dictionary<Node, string> ids)
    {
        ids = new Dictionary<Node, string>(ReferenceEqualityComparer.Instance);
        var inputs = new HashSet<Node>(graph.Inputs, ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            string id = $"{prefix}{ids.Count}";
            ids[n] = id;
            string attrs = n.Attrs is null || n.Op == Op.Fused ? "" : "\\n" + Escape(n.Attrs.Describe());
            if (n.Attrs is FusedAttrs f)
            {
                int cluster = counter++;
                sb.Append(CultureInfo.InvariantCulture, $"{indent}subgraph cluster_{cluster} {{\n");
                sb.Append(CultureInfo.InvariantCulture, $"{indent}  label=\"fused {Escape(f.Kind)}\"; style=\"rounded,filled\"; fillcolor=\"#eef3ff\";\n");
                Emit(sb, f.Body, $"{id}_", ref counter, indent + "  ", out var inner);
                sb.Append(CultureInfo.InvariantCulture, $"{indent}  {id} [label=\"{Escape(f.Kind)}\\n{Escape(n.TypeString)}\", shape=doubleoctagon, fillcolor=\"#cfdcff\"];\n");
                sb.Append(CultureInfo.InvariantCulture, $"{indent}  {inner[f.Body.Outputs[0]]} -> {id} [style=dashed];\n");
                sb.Append(indent).Append("}\n");
                for (int i = 0; i < n.Inputs.Length; i++)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{indent}{ids[n.Inputs[i]]} -> {inner[f.Body.Inputs[i]]} [label=\"{Escape(n.Inputs[i].TypeString)}\"];\n");
                }

                continue;
            }

            string fill = inputs.Contains(n) || n.Op == Op.Input ? "#fff2cc" : n.Op.IsLeaf() ? "#eeeeee" : n.Op.IsComposite() ? "#ffd9d9" : "white";
            sb.Append(CultureInfo.InvariantCulture, $"{indent}{id} [label=\"{Escape(Label(n))}{attrs}\", fillcolor=\"{fill}\"];\n");
            foreach (var i in n.Inputs.Distinct())
            {
                sb.Append(CultureInfo.InvariantCulture, $"{indent}{ids[i]} -> {id} [label=\"{Escape(i.TypeString)}\"];\n");
            }
        }
    }

    private static string Label(Node n) => n.Op == Op.Input ? $"{n.Attr<InputAttrs>().Name}: {n.TypeString}" : n.Op.Name();

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
