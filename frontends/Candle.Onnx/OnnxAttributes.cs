using System.Text;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>The attributes of one node, read by name with their declared types checked.</summary>
internal sealed class OnnxAttributes
{
    private readonly Dictionary<string, AttributeProto> _byName = new(StringComparer.Ordinal);
    private readonly NodeImport _node;

    public OnnxAttributes(NodeImport node, IEnumerable<AttributeProto> attributes)
    {
        _node = node;
        foreach (var a in attributes)
        {
            if (!_byName.TryAdd(a.Name, a)) throw node.Format($"has attribute '{a.Name}' twice");
        }
    }

    /// <summary>The attribute names present.</summary>
    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>True when the attribute is present.</summary>
    public bool Has(string name) => _byName.ContainsKey(name);

    /// <summary>An INT attribute, or <paramref name="fallback"/>.</summary>
    public long Int(string name, long fallback) => Get(name, AttributeProto.Types.AttributeType.Int) is { } a ? a.I : fallback;

    /// <summary>An INT attribute that must be present.</summary>
    public long Int(string name) => Get(name, AttributeProto.Types.AttributeType.Int)?.I ?? throw _node.Import($"needs attribute '{name}'");

    /// <summary>A FLOAT attribute, or <paramref name="fallback"/>.</summary>
    public double Float(string name, double fallback) => Get(name, AttributeProto.Types.AttributeType.Float) is { } a ? a.F : fallback;

    /// <summary>A STRING attribute, or <paramref name="fallback"/>.</summary>
    public string String(string name, string fallback) => Get(name, AttributeProto.Types.AttributeType.String) is { } a ? Encoding.UTF8.GetString(a.S.Span) : fallback;

    /// <summary>An INTS attribute, or null.</summary>
    public long[]? Ints(string name) => Get(name, AttributeProto.Types.AttributeType.Ints) is { } a ? [.. a.Ints] : null;

    /// <summary>A FLOATS attribute, or null.</summary>
    public float[]? Floats(string name) => Get(name, AttributeProto.Types.AttributeType.Floats) is { } a ? [.. a.Floats] : null;

    /// <summary>A TENSOR attribute, or null.</summary>
    public HostTensor? Tensor(string name) =>
        Get(name, AttributeProto.Types.AttributeType.Tensor) is { } a ? _node.ReadTensor(a.T, $"attribute '{name}'") : null;

    private AttributeProto? Get(string name, AttributeProto.Types.AttributeType type)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        if (!string.IsNullOrEmpty(a.RefAttrName)) throw _node.Import($"attribute '{name}' refers to a function attribute, which is not supported");
        if (a.Type != type && a.Type != AttributeProto.Types.AttributeType.Undefined)
        {
            throw _node.Format($"attribute '{name}' is {a.Type.ToString().ToUpperInvariant()}, expected {type.ToString().ToUpperInvariant()}");
        }

        return a;
    }
}
