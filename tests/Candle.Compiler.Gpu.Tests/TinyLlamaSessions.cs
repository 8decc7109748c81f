using Candle.Compiler.Backends.Cpu;
using Candle.Runtime;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// A tiny random llama and its decoder sessions, compiled once for a test class by <see cref="DecoderSession"/>'s
/// <c>Compile</c>: one on the CPU backend (the oracle) and one on ILGPU's CPU accelerator, whose cache stays on the
/// device. Tests share them in turn: each sizes the caches it uses (<see cref="DecoderSession.Reset"/>) and sets the
/// chunk length through <see cref="Sessions"/>.
/// </summary>
public class TinyLlamaSessions : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "candle-gpu-session-" + Guid.NewGuid().ToString("N"));

    /// <summary>Writes the model and compiles both sessions, in float32.</summary>
    public TinyLlamaSessions()
        : this(DType.F32)
    {
    }

    /// <summary>Writes the model and compiles both sessions with weights and cache in <paramref name="dtype"/>.</summary>
    protected TinyLlamaSessions(DType dtype)
    {
        TinyModels.Write(_dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(23).Without(".bias"));
        Model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(_dir, new ModelLoadOptions { DType = dtype }));
        Cpu = DecoderSession.Compile(Model, CpuBackend.Instance);
        Gpu = DecoderSession.Compile(Model, GpuBackends.IlgpuCpu);
    }

    /// <summary>The Hugging Face directory the model was written to.</summary>
    public string Directory => _dir;

    /// <summary>The model (float32 weights and cache, unless the fixture says otherwise).</summary>
    public CausalLanguageModel Model { get; }

    /// <summary>The session compiled for the CPU backend.</summary>
    public DecoderSession Cpu { get; }

    /// <summary>The session compiled for ILGPU's CPU accelerator.</summary>
    public DecoderSession Gpu { get; }

    /// <summary>Both sessions with <paramref name="chunk"/> as their <see cref="DecoderSession.PrefillChunkLength"/>.</summary>
    public (DecoderSession Cpu, DecoderSession Gpu) Sessions(int chunk = DecoderSession.DefaultPrefillChunkLength)
    {
        Cpu.PrefillChunkLength = Gpu.PrefillChunkLength = chunk;
        return (Cpu, Gpu);
    }

    /// <summary>Releases the sessions and deletes the model's files.</summary>
    public void Dispose()
    {
        Cpu.Dispose();
        Gpu.Dispose();
        System.IO.Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>The tiny llama of <see cref="TinyLlamaSessions"/> with float16 weights and cache.</summary>
public sealed class TinyLlamaF16Sessions : TinyLlamaSessions
{
    /// <summary>Writes the model and compiles both sessions in float16.</summary>
    public TinyLlamaF16Sessions()
        : base(DType.F16)
    {
    }
}
