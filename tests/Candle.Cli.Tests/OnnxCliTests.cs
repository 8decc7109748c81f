using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary><c>candle inspect</c> and <c>candle eval</c> of ONNX files, on cases of ONNX's node tests.</summary>
public sealed class OnnxCliTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-cli-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string Case(string name) => Path.Combine(Fixtures.Dir, "onnx-node", name, "model.onnx");

    [Fact]
    public void InspectListsInputsOutputsOpsetsAndOpCounts()
    {
        var (code, output, _) = CliRunner.Run("inspect", Case("test_gemm_default_no_bias"));
        Assert.Equal(0, code);
        Assert.Contains("onnx", output, StringComparison.Ordinal);
        Assert.Contains("opsets ai.onnx 13", output, StringComparison.Ordinal);
        Assert.Contains("input  a: FLOAT[2, 10]", output, StringComparison.Ordinal);
        Assert.Contains("input  b: FLOAT[10, 3]", output, StringComparison.Ordinal);
        Assert.Contains("output y: FLOAT[2, 3]", output, StringComparison.Ordinal);
        Assert.Contains("op Gemm\t1", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void EvalReadsAndWritesTheGraphsNamesAndKeepsDtypes(string device)
    {
        // Where(condition: bool, x: float, y: float) -> z; the expected values are computed by hand.
        string inputs = Path.Combine(_tmp, "in.safetensors");
        string outputs = Path.Combine(_tmp, "out.safetensors");
        SafeTensorsWriter.Write(inputs,
        [
            new("condition", HostTensor.FromArray([true, false, false, true], 2, 2)),
            new("x", HostTensor.FromArray([1f, 2f, 3f, 4f], 2, 2)),
            new("y", HostTensor.FromArray([9f, 8f, 7f, 6f], 2, 2)),
        ]);
        var (code, output, err) = CliRunner.Run("eval", Case("test_where_example"), "--inputs", inputs, "--out", outputs, "--device", device);
        Assert.True(code == 0, err);
        Assert.Contains("z", output, StringComparison.Ordinal);
        using var file = SafeTensorsFile.Open(outputs);
        var z = file.Get("z");
        Assert.Equal(DType.F32, z.DType);
        Assert.Equal([2, 2], z.Shape);
        Assert.Equal([1f, 8f, 7f, 4f], z.ToFloat32());
    }

    [Fact]
    public void EvalNamesAMissingInput()
    {
        string inputs = Path.Combine(_tmp, "in.safetensors");
        SafeTensorsWriter.Write(inputs, [new("x", HostTensor.FromArray([1f], 1))]);
        var (code, _, err) = CliRunner.Run("eval", Case("test_where_example"), "--inputs", inputs, "--out", Path.Combine(_tmp, "o.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("missing input 'condition'", err, StringComparison.Ordinal);
    }

    [Fact]
    public void InspectOfATruncatedFileIsOneLineNamingIt()
    {
        string path = Path.Combine(_tmp, "bad.onnx");
        var bytes = File.ReadAllBytes(Case("test_gemm_default_no_bias"));
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var (code, _, err) = CliRunner.Run("inspect", path);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {path}:", err, StringComparison.Ordinal);
    }
}
