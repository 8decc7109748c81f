using System.Text;

namespace Candle.Compiler.Ir;

/// <summary>Prints graphs as stable text (node numbers by position), for snapshots and debugging.</summary>
public static class IrPrinter
{
    /// <summary>One line per node: <c>%3 = add(%1, %2) : float32[seq, 4]</c>.</summary>
    public static string Print(Graph graph)
    {
        var sb = new StringBuilder();
        var ids = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        sb.Append("graph(").Append(string.Join(", ", graph.Inputs.Select(i => $"{i.Attr<InputAttrs>().Name}: {i.TypeString}"))).Append(") {\n");
        foreach (var n in graph.Nodes)
        {
            int id = ids.Count;
            ids[n] = id;
            sb.Append("  %").Append(id).Append(" = ").Append(n.Op.Name()).Append('(')
              .Append(string.Join(", ", n.Inputs.Select(i => "%" + ids[i])));
            if (n.Attrs is not null)
            {
                if (n.Inputs.Length > 0) sb.Append(", ");
                sb.Append(n.Attrs.Describe());
            }

            sb.Append(") : ").Append(n.TypeString).Append('\n');
        }

        sb.Append("  return ").Append(string.Join(", ", graph.Outputs.Select((o, i) => $"{graph.OutputNames[i]}=%{ids[o]}"))).Append("\n}\n");
        return sb.ToString();
    }
}
