using Candle.Compiler.Gpu;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary>
/// <c>--device</c> in every command that runs a model: cpu, cuda[:N], opencl[:N], reference, metal and ilgpu-cpu; a GPU
/// kind that cannot run here is one error line naming what is missing (the driver, the runtime library or the device),
/// and a value that names no device is an error listing the devices.
/// </summary>
public sealed class DeviceOptionTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-device-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string[] Command(string command, string device)
    {
        string bert = Fixtures.Model("bert"), llama = Fixtures.Model("llama");
        string train = Path.Combine(llama, "train-inputs.safetensors");
        return command switch
        {
            "eval" => ["eval", bert, "--inputs", Path.Combine(bert, "reference.safetensors"), "--out", Path.Combine(_tmp, "out.safetensors"), "--device", device],
            "embed" => ["embed", bert, "--ids", "1,2,3", "--device", device],
            "generate" => ["generate", llama, "--prompt-ids", "1,2,3", "--max-new-tokens", "2", "--device", device],
            "bench" => ["bench", llama, "--prompt-tokens", "4", "--gen-tokens", "1", "--repetitions", "1", "--device", device],
            "grad" => ["grad", llama, "--inputs", train, "--out", Path.Combine(_tmp, "grads.safetensors"), "--device", device],
            "train" => ["train", llama, "--data", train, "--steps", "1", "--out", Path.Combine(_tmp, "losses.json"), "--device", device],
            _ => throw new ArgumentException(command),
        };
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("embed")]
    [InlineData("generate")]
    [InlineData("bench")]
    [InlineData("grad")]
    [InlineData("train")]
    public void A_missing_cuda_device_is_one_error_line_naming_what_is_missing(string command)
    {
        if (GpuBackends.Cuda.IsAvailable) return; // a CUDA machine runs the command instead (the GPU test project checks its results there)
        var (code, _, err) = CliRunner.Run(Command(command, "cuda"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: backend 'cuda' cannot run on this machine: ", err, StringComparison.Ordinal);
        Assert.Contains(GpuBackends.Cuda.UnavailableReason!, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void A_device_index_reaches_the_gpu_backend()
    {
        var (code, _, err) = CliRunner.Run(Command("eval", "cuda:7"));
        Assert.Equal(1, code);
        // Without CUDA the backend says what is missing; with fewer than eight devices it names the index it lacks.
        Assert.Contains(GpuBackends.Cuda.IsAvailable ? "no CUDA device 7" : "libcuda", err, StringComparison.Ordinal);
        (code, _, err) = CliRunner.Run(Command("eval", "opencl:3"));
        Assert.Equal(1, code);
        Assert.Contains(GpuBackends.OpenCL.IsAvailable ? "no OpenCL device 3" : "OpenCL", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cpu:1", "only cuda, opencl and ilgpu-cpu take a device index")]
    [InlineData("tpu", "known: cpu, cuda, cuda:N, opencl, opencl:N, reference, metal")]
    [InlineData("cuda:x", "a device index is a number after the kind, as in cuda:1")]
    [InlineData("opencl:1:2", "a device index is a number")]
    public void A_value_that_names_no_device_is_an_error_saying_so(string device, string fragment)
    {
        foreach (string command in new[] { "eval", "generate", "grad" })
        {
            var (code, _, err) = CliRunner.Run(Command(command, device));
            Assert.Equal(1, code);
            Assert.StartsWith("error: ", err, StringComparison.Ordinal);
            Assert.Contains(fragment, err, StringComparison.Ordinal);
        }
    }
}
