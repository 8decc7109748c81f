using System.Diagnostics;
using System.Globalization;
using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;

namespace Candle.Perf.PlanAot;

/// <summary>
/// Time to first result, each in a fresh process: compiling a model's forward graph from scratch (load weights,
/// trace, pass pipeline, lowering) and running it once, versus loading the saved plan with Candle.Runtime and
/// running it once. <c>dotnet run -c Release --project perf/Candle.Perf -- plan-aot [model-dir]</c>.
/// </summary>
internal static class PlanAotReport
{
    public static void Run(string[] args)
    {
        switch (args)
        {
            case ["compile", var model, var plan, var inputs]:
                Compile(model, plan, inputs);
                return;
            case ["load", var plan, var inputs]:
                Load(plan, inputs);
                return;
        }

        string modelDir = args.Length > 0 ? args[0] : Path.Combine(RepoRoot(), "tests", "fixtures", "refs", "llama");
        string tmp = Directory.CreateTempSubdirectory("candle-plan-aot-").FullName;
        string planPath = Path.Combine(tmp, "model.plan"), inputsPath = Path.Combine(tmp, "inputs.safetensors");
        using (var reference = SafeTensorsFile.Open(Path.Combine(modelDir, "reference.safetensors")))
        {
            SafeTensorsWriter.Write(inputsPath, [new KeyValuePair<string, HostTensor>("input_ids", reference.Get("input_ids").Clone())]);
        }

        Console.WriteLine($"model {modelDir}; each row is a fresh process (median of 3), JIT included");
        double compile = Median(3, () => Child("compile", modelDir, planPath, inputsPath));
        double load = Median(3, () => Child("load", planPath, inputsPath));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"compile from scratch + first run: {compile:F0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load saved plan + first run:      {load:F0} ms ({compile / load:F1}x faster)"));
        Directory.Delete(tmp, recursive: true);
    }

    private static void Compile(string modelDir, string planPath, string inputsPath)
    {
        var sw = Stopwatch.StartNew();
        var graph = ModelRegistry.Load(modelDir).TraceForward();
        var plan = CandleCompiler.Compile(graph, new CompileOptions { OptLevel = 2 });
        plan.Run(ReadInputs(inputsPath));
        Console.WriteLine(sw.Elapsed.TotalMilliseconds.ToString("F3", CultureInfo.InvariantCulture));
        plan.Save(planPath);
    }

    private static void Load(string planPath, string inputsPath)
    {
        var sw = Stopwatch.StartNew();
        var plan = Plan.Load(planPath);
        plan.Run(ReadInputs(inputsPath));
        Console.WriteLine(sw.Elapsed.TotalMilliseconds.ToString("F3", CultureInfo.InvariantCulture));
    }

    private static HostTensor[] ReadInputs(string path)
    {
        using var f = SafeTensorsFile.Open(path);
        return [f.Get("input_ids").Clone()];
    }

    private static double Child(params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!, [typeof(PlanAotReport).Assembly.Location is { Length: > 0 } dll && Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal) ? dll : "", "plan-aot", .. args])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Remove("");
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"child '{string.Join(' ', args)}' failed: {output}");
        return double.Parse(output.Trim().Split('\n')[0], CultureInfo.InvariantCulture);
    }

    private static double Median(int n, Func<double> measure)
    {
        var xs = Enumerable.Range(0, n).Select(_ => measure()).Order().ToArray();
        return xs[n / 2];
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Candle.Compiler.sln"))) return d.FullName;
        }

        throw new DirectoryNotFoundException("Candle.Compiler.sln not found above " + AppContext.BaseDirectory);
    }
}
