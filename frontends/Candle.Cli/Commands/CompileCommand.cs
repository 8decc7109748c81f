using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Onnx;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle compile &lt;model&gt; -o model.plan [-O 2] [--no-codegen]</c>: compiles a model's forward pass (inputs
/// and outputs named as transformers names them, symbolic batch and sequence sizes; an <c>.onnx</c> file keeps its
/// graph's names and dimension params) for the CPU and saves the plan
/// with its weights, so that a program referencing only Candle.Runtime loads and runs it. With <c>--no-codegen</c>
/// the plan holds no generated code (elementwise kernels run in the runtime's interpreter): it loads under NativeAOT.
/// A causal LM (Llama family, GPT-2) is written as a compiled model directory instead (prefill and decode plans,
/// tokenizer, chat template, generation config; see <see cref="CompiledLanguageModel"/>) that <c>candle generate</c> and
/// <c>candle chat</c> load without compiling. With <c>--emit csharp</c> the plan's generated kernels are also written as C# source beside it
/// (<c>model.cs</c> for <c>-o model.plan</c>, see <see cref="CSharpKernelSource"/>).
/// </summary>
internal static class CompileCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory, a llama GGUF file or an .onnx file");
        var output = new Option<string>("--output", "-o") { Description = "the plan file to write", Required = true };
        var opt = new Option<int>("--opt", "-O") { Description = "optimization level 0..3", DefaultValueFactory = _ => 2 };
        var noCodegen = new Option<bool>("--no-codegen") { Description = "generate no IL: the plan runs where code cannot be generated (NativeAOT, trimmed apps)" };
        var emit = new Option<string?>("--emit") { Description = "also write the generated kernels as source: csharp (model.cs beside model.plan)" };
        var allowUnused = LoadOption.Create();
        var cmd = new Command("compile", "Compile a model's forward pass and save the plan for Candle.Runtime") { model.Argument, model.Option, output, opt, noCodegen, emit, allowUnused };
        cmd.SetAction(pr => ctx.Guard(() => Run(
            ctx, model.Resolve(pr), pr.GetValue(output)!, pr.GetValue(opt), pr.GetValue(noCodegen), pr.GetValue(emit), LoadOption.Resolve(pr.GetValue(allowUnused)))));
        return cmd;
    }

    /// <summary>A causal LM: prefill and decode plans, tokenizer, chat template and generation files in one directory.</summary>
    private static int CompileCausal(CliContext ctx, string modelType, string modelPath, string outPath, int opt, bool noCodegen, ModelLoadOptions loadOptions, Stopwatch total)
    {
        ctx.SetStageQuietly("compiling prefill and decode and saving them");
        var backend = new CpuBackend(generateKernels: !noCodegen);
        ModelLoadProgress.Run(ctx, (load, compile) =>
        {
            CompiledLanguageModel.Save(modelPath, outPath, new CompileOptions { OptLevel = opt, Backend = backend, Progress = compile }, loadOptions with { Progress = load });
            return 0;
        });
        long bytes = Directory.EnumerateFiles(outPath).Sum(f => new FileInfo(f).Length);
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compiled {modelType} at O{opt} for generation: prefill and decode plans{(noCodegen ? " with no generated code" : "")}, tokenizer and templates"));
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {outPath} ({bytes / 1e6:F1} MB) in {total.Elapsed.TotalSeconds:F1} s; run it with candle generate {outPath} or CompiledLanguageModel.Load"));
        return 0;
    }

    private static int Run(CliContext ctx, string modelPath, string outPath, int opt, bool noCodegen, string? emit, ModelLoadOptions loadOptions)
    {
        if (opt is < 0 or > 3) throw new ArgumentException($"--opt: {opt} is not 0, 1, 2 or 3");
        if (emit is not null && emit != "csharp") throw new ArgumentException($"--emit: '{CliText.Escape(emit)}' is not a source format (csharp)");
        if (emit is not null && noCodegen) throw new ArgumentException("--emit csharp writes the generated kernels, which --no-codegen does not make: pass one or the other");
        var total = Stopwatch.StartNew();
        ctx.Stage = "loading the model";
        string modelType;
        Graph graph;
        if (OnnxFiles.IsOnnx(modelPath))
        {
            graph = OnnxModel.Load(modelPath).Graph;
            modelType = "onnx";
        }
        else
        {
            var model = ModelRegistry.Load(modelPath, loadOptions);
            if (model is ICausalLanguageModel && emit is null)
            {
                return CompileCausal(ctx, model.ModelType, modelPath, outPath, opt, noCodegen, loadOptions, total);
            }

            ctx.Stage = "tracing the model";
            graph = model.TraceForward();
            modelType = model.ModelType;
        }

        ctx.Stage = "compiling the model";
        var backend = new CpuBackend(generateKernels: !noCodegen);
        using var plan = backend.CompilePlan(graph, new CompileOptions { OptLevel = opt });
        ctx.Stage = "saving the plan";
        plan.Save(outPath);
        string? sourcePath = null;
        if (emit is not null)
        {
            ctx.Stage = "writing the C# source";
            sourcePath = Path.ChangeExtension(outPath, ".cs");
            if (string.Equals(Path.GetFullPath(sourcePath), Path.GetFullPath(outPath), StringComparison.Ordinal))
            {
                throw new ArgumentException($"--output {CliText.Escape(outPath)}: the C# source goes to the plan's name with .cs; give the plan another extension (.plan)");
            }

            File.WriteAllText(sourcePath, CSharpKernelSource.Render(plan));
        }

        ctx.Stage = "done";
        long bytes = new FileInfo(outPath).Length;
        int generated = plan.Definition.Steps.Count(s => s.Kernel.Contains("gen:", StringComparison.Ordinal));
        int interpreted = plan.Definition.Steps.Count(s => s.Kernel.Contains("rt:fused", StringComparison.Ordinal));
        string kernels = noCodegen ? $"{interpreted} interpreted elementwise kernels, no generated code" : $"{generated} generated kernel calls";
        ctx.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"compiled {modelType} at O{opt}: {plan.Definition.Steps.Count} steps ({kernels}); inputs {string.Join(", ", plan.InputMetadata)}; outputs {string.Join(", ", plan.OutputNames)}"));
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {outPath} ({bytes / 1e6:F1} MB) in {total.Elapsed.TotalSeconds:F1} s"));
        if (sourcePath is not null)
        {
            int distinct = plan.Definition.Steps.Select(s => s.Kernel).Where(k => k.Contains("gen:", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).Count();
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {sourcePath} (C# source of {distinct} generated kernels)"));
        }
        return 0;
    }
}
