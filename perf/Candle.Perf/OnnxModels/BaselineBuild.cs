using System.Reflection;
using Candle.Perf.Interleaved;
using Candle.Runtime.Tensors;

namespace Candle.Perf.OnnxModels;

/// <summary>
/// An earlier build of this project (its output directory) loaded beside the current one in its own
/// <see cref="BuildLoadContext"/>: an ONNX file is imported, compiled at O2 for the CPU and run through that build's
/// importer, compiler and runtime kernels, so that both builds and ONNX Runtime can be timed interleaved in one process.
/// The old build's generated elementwise kernels bind to the runtime already loaded (the current one), as a plan's
/// kernel assembly always does; its runtime kernels (convolution, GEMM, pooling) are its own.
/// </summary>
internal sealed class BaselineBuild
{
    private readonly BuildLoadContext _context;
    private readonly Assembly _runtime;
    private readonly Assembly _compiler;
    private readonly Assembly _onnx;

    public BaselineBuild(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(full, "Candle.Runtime.dll")))
        {
            throw new ArgumentException($"--baseline {directory}: no Candle.Runtime.dll there (give a build's output directory, such as perf/Candle.Perf/bin/Release/net10.0)");
        }

        _context = new BuildLoadContext("baseline", full);
        _runtime = _context.LoadFromAssemblyName(new AssemblyName("Candle.Runtime"));
        _compiler = _context.LoadFromAssemblyName(new AssemblyName("Candle.Compiler"));
        _onnx = _context.LoadFromAssemblyName(new AssemblyName("Candle.Onnx"));
    }

    /// <summary>Imports and compiles <paramref name="path"/> with the old build; returns a call that runs it on <paramref name="inputs"/> (in the graph's input order).</summary>
    public (Action Run, IDisposable Plan) Compile(string path, int threads, IReadOnlyList<HostTensor> inputs)
    {
        using var scope = _context.EnterContextualReflection();
        var model = Type(_onnx, "Candle.Onnx.OnnxModel").GetMethod("Load", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, [path, null])!;
        object graph = model.GetType().GetProperty("Graph")!.GetValue(model)!;
        var optionsType = Type(_compiler, "Candle.Compiler.Backends.CompileOptions");
        object options = Activator.CreateInstance(optionsType)!;
        object backend = Type(_compiler, "Candle.Compiler.Backends.BackendRegistry").GetMethod("Get", [typeof(string)])!.Invoke(null, ["cpu"])!;
        optionsType.GetProperty("OptLevel")!.SetValue(options, 2);
        optionsType.GetProperty("Threads")!.SetValue(options, threads);
        optionsType.GetProperty("Backend")!.SetValue(options, backend);
        var compile = Type(_compiler, "Candle.Compiler.CandleCompiler").GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == "Compile" && m.GetParameters().Length == 2 && m.ReturnType.Name == "Plan");
        object plan = compile.Invoke(null, [graph, options])!;

        var tensorType = Type(_runtime, "Candle.Runtime.Tensors.HostTensor");
        var args = Array.CreateInstance(tensorType, inputs.Count);
        for (int i = 0; i < inputs.Count; i++)
        {
            var t = inputs[i];
            object values = t.DType == Runtime.DType.I64 ? t.ToInt64() : t.ToFloat32();
            var fromArray = tensorType.GetMethod("FromArray", [values.GetType(), typeof(int[])])!;
            args.SetValue(fromArray.Invoke(null, [values, t.Shape.ToArray()]), i);
        }

        var run = plan.GetType().GetMethods().Single(m => m.Name == "Run" && m.GetParameters() is [var p] && p.ParameterType.IsGenericType
            && p.ParameterType.GetGenericTypeDefinition() == typeof(IReadOnlyList<>));
        object[] call = [args];
        return (() => run.Invoke(plan, call), (IDisposable)plan);
    }

    private static Type Type(Assembly assembly, string name) => assembly.GetType(name, throwOnError: true)!;
}
