using System.Globalization;

namespace Candle.Onnx;

/// <summary>
/// The one account of what an import expands: every ONNX node imported (a control-flow body's nodes once per copy the
/// unrolling makes, nested bodies included), the IR nodes an op adds in proportion to an attribute or a shape (RNN steps,
/// TopK rounds, pool kernel offsets, GridSample taps), and the elements of the constants the importer computes (DFT
/// matrices, resize weights, gather indices). A charge past <see cref="OnnxImportOptions.MaxNodes"/> or
/// <see cref="OnnxImportOptions.MaxConstantElements"/> ends the import with an <see cref="OnnxImportException"/> naming the
/// node, its op and the budget, before anything sized by the charge is built.
/// </summary>
internal sealed class ImportBudget
{
    private readonly long _maxNodes;
    private readonly long _maxElements;

    public ImportBudget(OnnxImportOptions options)
    {
        if (options.MaxNodes < 1) throw new ArgumentOutOfRangeException(nameof(options), options.MaxNodes, "OnnxImportOptions.MaxNodes must be at least 1");
        if (options.MaxConstantElements < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxConstantElements, "OnnxImportOptions.MaxConstantElements must not be negative");
        _maxNodes = options.MaxNodes;
        _maxElements = options.MaxConstantElements;
    }

    /// <summary>Nodes charged so far.</summary>
    public long Nodes { get; private set; }

    /// <summary>Constant elements charged so far.</summary>
    public long Elements { get; private set; }

    /// <summary>
    /// Charges <paramref name="nodes"/> nodes and <paramref name="elements"/> constant elements for <paramref name="what"/>;
    /// returns null when they fit, otherwise the reason (the caller wraps it into an error naming the node).
    /// </summary>
    public string? TryCharge(long nodes, long elements, string what)
    {
        if (nodes < 0 || elements < 0) return $"{what} has a negative size ({nodes} nodes, {elements} elements)";
        if (nodes > _maxNodes - Nodes)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{what} passes the import budget of {_maxNodes} nodes (OnnxImportOptions.MaxNodes): {Nodes} were imported or unrolled before it, it needs {nodes} more");
        }

        if (elements > _maxElements - Elements)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{what} passes the import budget of {_maxElements} constant elements (OnnxImportOptions.MaxConstantElements): {Elements} were computed before it, it needs {elements} more");
        }

        Nodes += nodes;
        Elements += elements;
        return null;
    }

    /// <summary>Gives back <paramref name="nodes"/> nodes charged ahead of time (a reservation larger than what was built).</summary>
    public void Refund(long nodes) => Nodes -= Math.Clamp(nodes, 0, Nodes);
}
