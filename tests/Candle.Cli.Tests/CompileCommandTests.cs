using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Compiler.Tests.Source;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary>
/// <c>candle compile</c>: the saved BERT plan loads with the runtime alone and reproduces transformers' outputs
/// (reference.safetensors); with <c>--no-codegen</c> it holds no generated code. Progress lines go to stderr only when asked for.
/// </summary>
public sealed class CompileCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-compile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(bool progress, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CandleCli.Run(args, TextReader.Null, stdout, stderr, progress);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_compiled_bert_plan_reproduces_transformers(bool noCodegen)
    {
        string plan = Path.Combine(_dir, "bert.plan");
        string bert = Fixtures.Model("bert");
        var (code, output, err) = Run(false, noCodegen ? ["compile", bert, "-o", plan, "--no-codegen"] : ["compile", bert, "-o", plan]);
        Assert.True(code == 0, err);
        Assert.Equal(string.Empty, err);
        Assert.Contains("wrote " + plan, output, StringComparison.Ordinal);

        using var loaded = Plan.Load(plan);
        Assert.Equal(noCodegen, loaded.Payload is null);
        using var refs = SafeTensorsFile.Open(Path.Combine(bert, "reference.safetensors"));
        var inputs = loaded.InputMetadata.ToDictionary(m => m.Name, m => refs.Get(m.Name).Cast(m.DType));
        var outputs = loaded.Run(inputs);
        foreach (string name in new[] { "last_hidden_state", "pooler_output" })
        {
            HostTensor expected = refs.Get(name), actual = outputs[name];
            Assert.Equal(expected.Shape, actual.Shape);
            double max = 0;
            for (long i = 0; i < expected.ElementCount; i++) max = Math.Max(max, Math.Abs(expected.GetDouble(i) - actual.GetDouble(i)));
            Assert.True(max <= 1e-4, $"{name}: max difference {max}");
        }
    }

    [Fact]
    public void Emitted_csharp_compiles_with_roslyn_and_runs_bit_identical_to_the_plan()
    {
        string plan = Path.Combine(_dir, "bert.plan");
        string bert = Fixtures.Model("bert");
        var (code, output, err) = Run(false, "compile", bert, "-o", plan, "--emit", "csharp");
        Assert.True(code == 0, err);
        string sourcePath = Path.Combine(_dir, "bert.cs");
        Assert.Contains("wrote " + sourcePath, output, StringComparison.Ordinal);
        string source = File.ReadAllText(sourcePath);
        Assert.Contains("public static unsafe class Kernels", source, StringComparison.Ordinal);
        Assert.Contains("GeluOp.Invoke<Lanes1, float>(", source, StringComparison.Ordinal);

        byte[] assembly = RoslynKernels.Compile(source);
        using var il = Plan.Load(plan);
        using var csharp = Plan.Load(plan, new PlanLoadOptions { KernelGenerator = new CompiledSource(assembly, source) });
        using var refs = SafeTensorsFile.Open(Path.Combine(bert, "reference.safetensors"));
        var inputs = il.InputMetadata.ToDictionary(m => m.Name, m => refs.Get(m.Name).Cast(m.DType));
        var expected = il.Run(inputs);
        var actual = csharp.Run(inputs);
        foreach (string name in new[] { "last_hidden_state", "pooler_output" })
        {
            Assert.Equal(expected[name].Data.ToArray(), actual[name].Data.ToArray());
            HostTensor reference = refs.Get(name);
            double max = 0;
            for (long i = 0; i < reference.ElementCount; i++) max = Math.Max(max, Math.Abs(reference.GetDouble(i) - actual[name].GetDouble(i)));
            Assert.True(max <= 1e-4, $"{name}: max difference {max}");
        }
    }

    [Fact]
    public void An_onnx_file_compiles_to_a_plan_that_reproduces_its_node_test()
    {
        string plan = Path.Combine(_dir, "sigmoid.plan");
        string dir = Path.Combine(Fixtures.Dir, "onnx-node", "test_sigmoid");
        var (code, output, err) = Run(false, "compile", Path.Combine(dir, "model.onnx"), "-o", plan, "--no-codegen");
        Assert.True(code == 0, err);
        Assert.Contains("compiled onnx at O2", output, StringComparison.Ordinal);
        using var loaded = Plan.Load(plan);
        var x = Candle.Onnx.OnnxTensorFile.Read(Path.Combine(dir, "test_data_set_0", "input_0.pb"));
        var expected = Candle.Onnx.OnnxTensorFile.Read(Path.Combine(dir, "test_data_set_0", "output_0.pb"));
        var y = loaded.Run(new Dictionary<string, HostTensor> { [loaded.InputMetadata[0].Name] = x })[loaded.OutputNames[0]];
        Assert.Equal(expected.Shape, y.Shape);
        for (long i = 0; i < expected.ElementCount; i++) Assert.Equal(expected.GetDouble(i), y.GetDouble(i), 1e-6);
    }

    [Theory]
    [InlineData("--emit", "cpp", "error: --emit: 'cpp' is not a source format (csharp)\n")]
    [InlineData("--no-codegen", "--emit=csharp", "error: --emit csharp writes the generated kernels, which --no-codegen does not make: pass one or the other\n")]
    public void Bad_emit_flags_are_one_line_errors(string a, string b, string expected)
    {
        var (code, _, err) = Run(false, "compile", Fixtures.Model("bert"), "-o", Path.Combine(_dir, "x.plan"), a, b);
        Assert.Equal(1, code);
        Assert.Equal(expected, err);
    }

    [Fact]
    public void Progress_lines_name_each_step_with_its_time()
    {
        string plan = Path.Combine(_dir, "bert.plan");
        var (code, _, err) = Run(true, "compile", Fixtures.Model("bert"), "-o", plan, "--no-codegen");
        Assert.Equal(0, code);
        var lines = err.TrimEnd('\n').Split('\n');
        Assert.Equal(["loading the model", "tracing the model", "compiling the model", "saving the plan"], lines.Select(l => l[..l.IndexOf("...", StringComparison.Ordinal)]));
        Assert.All(lines, l => Assert.Matches(@"\.\.\. \d+\.\d s$", l));
    }

    [Fact]
    public void A_bad_opt_level_is_a_one_line_error()
    {
        var (code, _, err) = Run(false, "compile", Fixtures.Model("bert"), "-o", Path.Combine(_dir, "x.plan"), "-O", "7");
        Assert.Equal(1, code);
        Assert.Equal("error: --opt: 7 is not 0, 1, 2 or 3\n", err);
    }

    /// <summary>Hands the plan the Roslyn-compiled kernels, after checking that the source defines every kernel the plan lists.</summary>
    private sealed class CompiledSource(byte[] assembly, string source) : IKernelGenerator
    {
        public string Target => "cpu-il";

        public byte[] Generate(IReadOnlyList<GeneratedKernelSpec> kernels)
        {
            Assert.NotEmpty(kernels);
            Assert.All(kernels, k => Assert.Contains($"public static void {k.Name}(", source, StringComparison.Ordinal));
            return assembly;
        }
    }
}
