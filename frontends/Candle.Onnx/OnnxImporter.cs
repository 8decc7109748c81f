using System.Globalization;
using Candle.Compiler.Ir;
using Candle.Onnx.Ops;
using Candle.Onnx.Proto;

namespace Candle.Onnx;

/// <summary>
/// Builds the IR graph of a parsed ModelProto: inputs with their dimension params as symbolic dims, initializers as
/// named constants, each node through <see cref="OnnxOpTable"/> in the file's (topological) order, outputs named as
/// the graph's outputs.
/// </summary>
internal sealed class OnnxImporter
{
    private const long MaxOpset = 1000;

    /// <summary>The deepest nesting of control-flow bodies imported.</summary>
    private const int MaxDepth = 16;

    /// <summary>The most elements a value may have: shapes read from the file (ConstantOfShape, Expand, Tile, Pad) never size an allocation beyond it.</summary>
    private const long MaxElements = int.MaxValue;
    private readonly string _file;
    private readonly string _baseDir;
    private readonly Dictionary<string, OnnxValue> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _opsets = new(StringComparer.Ordinal);

    private readonly OnnxImportOptions _options;
    private readonly ImportFolding _folding = new();
    private readonly ImportBudget _budget;

    /// <summary>The control-flow nodes whose bodies are being imported, outermost first (labels, for messages).</summary>
    private readonly List<string> _owners = [];

    private OnnxImporter(string file, OnnxImportOptions options)
    {
        _options = options;
        _budget = new ImportBudget(options);
        _file = file;
        _baseDir = Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".";
    }

    /// <summary>Imports the model of <paramref name="file"/>.</summary>
    public static Graph Import(string file, ModelProto model, OnnxImportOptions options) => new OnnxImporter(file, options).Run(model);

    private Graph Run(ModelProto model)
    {
        var graph = model.Graph ?? throw new OnnxFormatException($"{_file}: the model has no graph");
        foreach (var o in model.OpsetImport)
        {
            string domain = o.Domain == "ai.onnx" ? string.Empty : o.Domain;
            if (o.Version < 1 || o.Version > MaxOpset) throw new OnnxFormatException($"{_file}: opset import of domain '{o.Domain}' has version {o.Version}");
            _opsets[domain] = o.Version;
        }

        if (!_opsets.ContainsKey(string.Empty) && model.IrVersion < 3) _opsets[string.Empty] = 1;

        foreach (var init in graph.Initializer)
        {
            if (string.IsNullOrEmpty(init.Name)) throw new OnnxFormatException($"{_file}: an initializer has no name");
            var data = OnnxTensors.ToHost(init, _file, $"initializer '{init.Name}'", _baseDir);
            if (!_values.TryAdd(init.Name, new OnnxValue(IrBuilder.Constant(data, init.Name)) { ElemType = Carried(init.DataType) }))
            {
                throw new OnnxFormatException($"{_file}: initializer '{init.Name}' is defined twice");
            }
        }

        var inputs = new List<Node>();
        foreach (var vi in graph.Input)
        {
            if (_values.ContainsKey(vi.Name)) continue; // an initializer: a constant (its declared input is a default)
            var node = Input(vi);
            if (_options.ConstantInputs?.GetValueOrDefault(vi.Name) is { } fixedValue)
            {
                if (fixedValue.DType != node.DType || fixedValue.Rank != node.Shape.Rank)
                {
                    throw new OnnxImportException($"{_file}: graph input '{vi.Name}' is {node.TypeString}, but its fixed value is {fixedValue}");
                }

                _values[vi.Name] = new OnnxValue(IrBuilder.Constant(fixedValue, vi.Name)) { ElemType = Carried(vi.Type.TensorType.ElemType) };
                continue;
            }

            _values[vi.Name] = new OnnxValue(node) { ElemType = Carried(vi.Type.TensorType.ElemType) };
            inputs.Add(node);
        }

        for (int i = 0; i < graph.Node.Count; i++) ImportNode(graph.Node[i], i);

        var outputs = new List<Node>();
        foreach (var vo in graph.Output)
        {
            if (!_values.TryGetValue(vo.Name, out var v)) throw new OnnxFormatException($"{_file}: graph output '{vo.Name}' is not produced by any node");
            outputs.Add(v.Node ?? throw new OnnxImportException(v.Known is { } known
                ? $"{_file}: graph output '{vo.Name}' is a symbolic shape ([{string.Join(", ", known.AsEnumerable())}]), which the IR cannot hold as data"
                : $"{_file}: graph output '{vo.Name}' is {v.Kind}; sequences and optionals are supported inside a graph, not as its outputs"));
        }

        return new Graph(inputs, outputs, graph.Output.Select(o => o.Name));
    }

    /// <summary>
    /// Imports a control-flow body (an If branch, a Loop or Scan iteration) with its inputs bound to
    /// <paramref name="bound"/>: the outer graph's values stay visible, the body's own names are dropped afterwards so
    /// that the body can be imported again for the next iteration. Returns the body's outputs.
    /// </summary>
    private OnnxValue[] ImportBody(GraphProto body, IReadOnlyList<OnnxValue> bound, string owner)
    {
        if (body.Input.Count != bound.Count) throw new OnnxImportException($"{_file}: {owner}: body '{body.Name}' has {body.Input.Count} inputs, {bound.Count} are bound");
        if (_owners.Count >= MaxDepth) throw new OnnxImportException($"{_file}: {owner}: bodies nest deeper than {MaxDepth}");
        Charge(1, 0, $"a copy of body '{body.Name}'", owner);
        var added = new List<string>();
        void Bind(string name, OnnxValue value)
        {
            if (string.IsNullOrEmpty(name)) throw new OnnxFormatException($"{_file}: {owner}: body '{body.Name}' has a nameless input or initializer");
            if (!_values.TryAdd(name, value)) throw new OnnxFormatException($"{_file}: {owner}: body '{body.Name}' redefines '{name}'");
            added.Add(name);
        }

        _owners.Add(owner);
        try
        {
            for (int i = 0; i < bound.Count; i++) Bind(body.Input[i].Name, bound[i]);
            foreach (var init in body.Initializer)
            {
                Bind(init.Name, new OnnxValue(IrBuilder.Constant(OnnxTensors.ToHost(init, _file, $"{owner} body initializer '{init.Name}'", _baseDir))) { ElemType = Carried(init.DataType) });
            }

            for (int i = 0; i < body.Node.Count; i++)
            {
                foreach (string name in body.Node[i].Output)
                {
                    if (name.Length > 0 && _values.ContainsKey(name)) throw new OnnxFormatException($"{_file}: {owner}: body '{body.Name}' redefines '{name}'");
                }

                ImportNode(body.Node[i], i);
                added.AddRange(body.Node[i].Output.Where(name => name.Length > 0));
            }

            return [.. body.Output.Select(o => _values.TryGetValue(o.Name, out var v) ? v : throw new OnnxFormatException($"{_file}: {owner}: body output '{o.Name}' is not produced"))];
        }
        finally
        {
            foreach (string name in added) _values.Remove(name);
            _owners.RemoveAt(_owners.Count - 1);
        }
    }

    /// <summary>
    /// Charges the import budget; past it, an error naming the outermost control-flow node being unrolled (when inside a
    /// body) or <paramref name="label"/>, and what was charged.
    /// </summary>
    private void Charge(long nodes, long elements, string what, string label)
    {
        if (_budget.TryCharge(nodes, elements, what) is not { } reason) return;
        string where = _owners.Count == 0 ? label : $"{_owners[0]} (unrolling its bodies, {_owners.Count} deep): {label}";
        throw new OnnxImportException($"{_file}: {where}: {reason}");
    }

    private static int Carried(int code) => OnnxDataTypes.IsCarried(code) ? code : 0;

    /// <summary>Ops whose outputs hold only values of their inputs (moved, selected or compared): nothing to narrow.</summary>
    private static readonly HashSet<string> ValuePreserving = new(StringComparer.Ordinal)
    {
        "Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Gather", "GatherElements", "GatherND", "Slice",
        "Concat", "Expand", "Tile", "Split", "Where", "Max", "Min", "ReduceMax", "ReduceMin", "If", "Loop", "Scan", "Constant",
        "Pad", "Reverse", "ReverseSequence", "DepthToSpace", "SpaceToDepth", "Compress", "Trilu", "TopK", "Sort", "TensorScatter",
    };

    /// <summary>Ops whose outputs are never of their input's carried type (dequantization to float; Cast and CastLike type their own outputs).</summary>
    private static readonly HashSet<string> Retyping = new(StringComparer.Ordinal)
    {
        "Cast", "CastLike", "DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear", "Shape", "Size", "ArgMax", "ArgMin",
        "NonZero", "OneHot", "BitCast",
    };

    /// <summary>
    /// The output typed for carried element types: an op's importer types it (Cast, CastLike, QuantizeLinear), or it
    /// takes the carried type of the first input of the same carrier dtype and is narrowed back into that type's values
    /// (wrapping of int16 sums, rounding of float8 products), unless the op only moves values.
    /// </summary>
    private static OnnxValue Typed(NodeProto node, OnnxValue result, List<OnnxValue?> inputs)
    {
        if (result.ElemType != 0 || result.Node is not { } output || Retyping.Contains(node.OpType)) return result;
        var source = inputs.FirstOrDefault(v => v is { ElemType: not 0, Node: { } x } && x.DType == output.DType);
        if (source is null) return result;
        return ValuePreserving.Contains(node.OpType)
            ? result with { ElemType = source.ElemType }
            : result with { Node = OnnxNarrowing.Narrow(output, source.ElemType), ElemType = source.ElemType };
    }

    private Node Input(ValueInfoProto vi)
    {
        string what = $"graph input '{vi.Name}'";
        if (string.IsNullOrEmpty(vi.Name)) throw new OnnxFormatException($"{_file}: a graph input has no name");
        if (vi.Type?.TensorType is not { } tt) throw new OnnxImportException($"{_file}: {what} is not a tensor (sequences, maps and optionals are not supported)");
        var dtype = OnnxDataTypes.Carrier(tt.ElemType) ?? throw new OnnxImportException($"{_file}: {what} has element type {OnnxDataTypes.Name(tt.ElemType)}, which is not supported");
        if (tt.Shape is null) throw new OnnxImportException($"{_file}: {what} has no declared shape; its rank is needed");
        if (tt.Shape.Dim.Count > 64) throw new OnnxFormatException($"{_file}: {what} has {tt.Shape.Dim.Count} dimensions");
        var dims = new List<Dim>();
        for (int i = 0; i < tt.Shape.Dim.Count; i++)
        {
            var d = tt.Shape.Dim[i];
            switch (d.ValueCase)
            {
                case TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue:
                    if (d.DimValue < 0 || d.DimValue > int.MaxValue) throw new OnnxFormatException($"{_file}: {what} has dimension {i} of size {d.DimValue}");
                    dims.Add(Dim.Of(d.DimValue));
                    break;
                case TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when !string.IsNullOrWhiteSpace(d.DimParam):
                    dims.Add(Dim.Sym(d.DimParam));
                    break;
                default:
                    dims.Add(Dim.Sym(string.Create(CultureInfo.InvariantCulture, $"{vi.Name}_dim{i}")));
                    break;
            }
        }

        return IrBuilder.Input(vi.Name, dtype, new Shape(dims));
    }

    private void ImportNode(NodeProto node, int index)
    {
        string domain = node.Domain == "ai.onnx" ? string.Empty : node.Domain;
        string label = string.IsNullOrEmpty(node.Name) ? $"node #{index} ({node.OpType})" : $"node '{node.Name}' ({node.OpType})";
        if (!_opsets.TryGetValue(domain, out long opset))
        {
            throw new OnnxFormatException($"{_file}: {label}: domain '{(domain.Length == 0 ? "ai.onnx" : domain)}' is not in the model's opset imports");
        }

        Charge(1, 0, "importing it", label);
        var importer = OnnxOpTable.Find(domain, node.OpType);
        if (importer is null)
        {
            throw new OnnxImportException($"{_file}: {label}: op '{node.OpType}' of domain '{(domain.Length == 0 ? "ai.onnx" : domain)}' (opset {opset}) is not supported");
        }

        var inputs = new List<OnnxValue?>();
        foreach (string name in node.Input)
        {
            if (name.Length == 0)
            {
                inputs.Add(null);
                continue;
            }

            if (!_values.TryGetValue(name, out var v)) throw new OnnxFormatException($"{_file}: {label}: input '{name}' is not a graph input, an initializer or an earlier node's output");
            inputs.Add(v);
        }

        var ctx = new NodeImport(_file, _baseDir, node, index, opset, inputs, (body, bound) => ImportBody(body, bound, label),
            (nodes, elements, what) => Charge(nodes, elements, what, label), _budget);
        OnnxValue[] results;
        try
        {
            results = importer(ctx);
        }
        catch (IrException e)
        {
            throw new OnnxImportException($"{_file}: {label}: {e.Message}", e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException)
        {
            throw new OnnxImportException($"{_file}: {label}: {e.Message}", e);
        }

        for (int i = 0; i < node.Output.Count; i++)
        {
            string name = node.Output[i];
            if (name.Length == 0) continue;
            if (i >= results.Length) throw new OnnxImportException($"{_file}: {label}: output {i} ('{name}') is not supported");
            if (results[i].Node is { } produced && produced.Shape.Numel.TryGetConstant() is long count && count > MaxElements)
            {
                throw new OnnxImportException($"{_file}: {label}: output '{name}' would have shape {produced.Shape} ({count} elements, at most {MaxElements})");
            }

            var value = Typed(node, results[i], inputs);
            value = value.Node is { } computed && value.Known is null ? value with { Node = _folding.Fold(computed) } : value;
            if (!_values.TryAdd(name, value)) throw new OnnxFormatException($"{_file}: {label}: output '{name}' is already defined");
        }
    }
}
