using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Tests.Passes;
using Xunit.Abstractions;

namespace Candle.Compiler.Tests.Metal;

/// <summary>
/// The MSL the Metal backend emits for a Llama decoder layer at O2 (the primitives traced PyTorch produces: rms_norm,
/// projections, rope, softmax attention, SwiGLU, residuals), as a snapshot: the generated kernels' source and the
/// dispatches in order. The library kernels are embedded files and not part of it. Set CANDLE_UPDATE_SNAPSHOTS=1 to
/// rewrite <c>Metal/Snapshots/llama_layer_o2.metal</c> in the source tree after reviewing the change.
/// </summary>
public partial class MetalSnapshotTests(ITestOutputHelper output)
{
    private const string Name = "llama_layer_o2.metal";

    private static MetalProgram LlamaLayer() =>
        MetalBackend.Emit(CandleCompiler.Optimize(TransformerBlock.Build(), new CompileOptions { Backend = MetalBackend.ThroughShim, OptLevel = 2 }));

    [Fact]
    public void LlamaDecoderLayerAtO2MatchesTheSnapshot()
    {
        string text = Render(LlamaLayer());
        if (Environment.GetEnvironmentVariable("CANDLE_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(Path.Combine(SourceDir(), "Snapshots", Name), text);
            return;
        }

        string file = Path.Combine(AppContext.BaseDirectory, "Metal", "Snapshots", Name);
        Assert.True(File.Exists(file), $"snapshot {Name} is missing");
        Assert.Equal(File.ReadAllText(file).ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void TheLayerIsPatternKernelsAroundFusedChainsAndItsPayloadCompilesAgainstTheShim()
    {
        var program = LlamaLayer();
        var kernels = program.Steps.OfType<MetalDispatch>().Select(d => d.Kernel).ToList();
        output.WriteLine(string.Join("\n", kernels));

        // At O2 the block's primitives are recognized: two rms_norms, rope on q and k, one attention, and the
        // projections as GEMMs (q/k/v and gate/up may be merged), with the SwiGLU product and the residuals fused.
        Assert.Equal(2, kernels.Count(k => k.EndsWith("_rms_norm", StringComparison.Ordinal)));
        Assert.Equal(2, kernels.Count(k => k == "cdlib_rope"));
        Assert.Equal(1, kernels.Count(k => k == "cdlib_attention_prefill"));
        Assert.InRange(kernels.Count(k => k == "cdlib_gemm"), 3, 7);
        Assert.DoesNotContain(kernels, k => k.EndsWith("_exp", StringComparison.Ordinal) || k.EndsWith("_max", StringComparison.Ordinal));
        if (MetalHarness.Missing(output)) return;
        MslShim.CheckSyntax(program.Payload.Source);
    }

    /// <summary>The header, the generated kernels (hashes in their names renumbered in order of appearance) and the dispatches as comments.</summary>
    private static string Render(MetalProgram program)
    {
        var sb = new StringBuilder("// Generated kernels of a Llama decoder layer at O2, then the dispatches in order.\n");
        sb.Append(MetalLibrary.MslHeader);
        foreach (var k in program.Generated) sb.Append(k.Source).Append('\n');
        foreach (var step in program.Steps)
        {
            string line = step switch
            {
                MetalDispatch d => $"// {d.Label}: {d.Kernel} buffers [{string.Join(", ", d.Buffers)}] args [{string.Join(", ", d.Args.Select(a => a.ToString()))}]",
                MetalCheck c => $"// check {c.Label}: {c.Start} <= {c.End} <= {c.Size}",
                _ => $"// {step}",
            };
            sb.Append(line).Append('\n');
        }

        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        return KernelHash().Replace(sb.ToString(), m =>
        {
            if (!ids.TryGetValue(m.Groups[2].Value, out int n)) ids[m.Groups[2].Value] = n = ids.Count;
            return m.Groups[1].Value + n.ToString(CultureInfo.InvariantCulture) + "_";
        });
    }

    [GeneratedRegex(@"\b(ew_|row_|mx_)([0-9a-f]{12})_")]
    private static partial Regex KernelHash();

    private static string SourceDir([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
