namespace Candle.Onnx;

/// <summary>An operator set a model imports: its domain ("" is ai.onnx) and version.</summary>
/// <param name="Domain">The domain; empty for the default domain ai.onnx.</param>
/// <param name="Version">The opset version.</param>
public sealed record OnnxOpset(string Domain, long Version)
{
    /// <summary>The domain as ONNX prints it (ai.onnx for the default).</summary>
    public string DisplayDomain => Domain.Length == 0 ? "ai.onnx" : Domain;
}
