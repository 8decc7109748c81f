using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Candle.Perf.Interleaved;

/// <summary>
/// <c>interleaved BEFORE_DIR AFTER_DIR [rounds]</c>: times the dispatch and runtime-kernel benchmarks of two builds of
/// this project (their output directories), each loaded in its own <see cref="BuildLoadContext"/> in this one process,
/// alternating between the builds batch by batch, so that both see the same load of a shared machine. It prints the
/// fastest batch's time per call of each side over the rounds; run it a second time with the directories swapped to
/// cancel the bias of the load order (the ratio of the two runs' geometric mean). With <c>--sgemm</c> it times
/// <c>SgemmBenchmarks</c>' Candle methods on every shape of its list (or <c>CANDLE_PERF_SHAPES</c>) instead, on two
/// threads or (<c>--one-thread</c>) one.
/// </summary>
internal static class InterleavedComparison
{
    /// <summary>The benchmark classes and thread counts compared.</summary>
    private static readonly (string Type, int Threads)[] Suites =
    [
        ("Candle.Perf.Dispatch.DispatchBenchmarks", 1),
        ("Candle.Perf.Dispatch.DispatchBenchmarks", 2),
        ("Candle.Perf.Dispatch.RuntimeKernelBenchmarks", 1),
    ];

    /// <summary>The runtime assembly of the side being set up: generated kernel assemblies bind to it.</summary>
    private static Assembly? _runtime;

    public static void Run(string[] args)
    {
        bool sgemm = args.Contains("--sgemm");
        int sgemmThreads = args.Contains("--one-thread") ? 1 : 2;
        args = [.. args.Where(a => a is not "--sgemm" and not "--one-thread")];
        if (args.Length is < 2 or > 3) throw new ArgumentException("usage: interleaved BEFORE_DIR AFTER_DIR [rounds] [--sgemm [--one-thread]]");
        int rounds = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 300;
        AppDomain.CurrentDomain.AssemblyResolve += (_, e) => new AssemblyName(e.Name).Name == "Candle.Runtime" ? _runtime : null;
        var before = sgemm ? SgemmCases(args[0], "before", sgemmThreads) : Cases(args[0], "before");
        var after = sgemm ? SgemmCases(args[1], "after", sgemmThreads) : Cases(args[1], "after");
        var reps = before.Select(c => (int)Math.Clamp(2e6 / Time(c.Run, 3), 3, 20000)).ToArray();
        var best = new double[2, before.Count];
        for (int i = 0; i < before.Count; i++) best[0, i] = best[1, i] = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < before.Count; i++)
            {
                int first = r % 2;
                for (int k = 0; k < 2; k++)
                {
                    int side = (first + k) % 2;
                    var c = side == 0 ? before[i] : after[i];
                    best[side, i] = Math.Min(best[side, i], Time(c.Run, reps[i]));
                }
            }
        }

        Console.WriteLine("| benchmark | threads | before | after | after / before |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        for (int i = 0; i < before.Count; i++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {before[i].Name} | {before[i].Threads} | {Format(best[0, i])} | {Format(best[1, i])} | {best[1, i] / best[0, i]:F2} |"));
        }
    }

    /// <summary>Loads one build and sets up its benchmarks; each is run once so that its kernels bind to that build.</summary>
    private static List<(string Name, int Threads, Action Run)> Cases(string directory, string name)
    {
        var context = new BuildLoadContext(name, Path.GetFullPath(directory));
        var perf = context.LoadFromAssemblyPath(Path.Combine(context.Directory, "Candle.Perf.dll"));
        _runtime = context.LoadFromAssemblyName(new AssemblyName("Candle.Runtime"));
        var cases = new List<(string, int, Action)>();
        foreach (var (typeName, threads) in Suites)
        {
            var type = perf.GetType(typeName, throwOnError: true)!;
            object suite = Activator.CreateInstance(type)!;
            type.GetProperty("Threads")!.SetValue(suite, threads);
            type.GetMethod("Setup")!.Invoke(suite, null);
            foreach (var method in type.GetMethods())
            {
                if (method.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == typeof(BenchmarkAttribute).FullName) is not { } attribute) continue;
                string description = attribute.NamedArguments.FirstOrDefault(a => a.MemberName == "Description").TypedValue.Value as string ?? method.Name;
                Action run = method.ReturnType == typeof(void) ? method.CreateDelegate<Action>(suite) : () => method.Invoke(suite, null);
                run();
                cases.Add((description, threads, run));
            }
        }

        return cases;
    }

    /// <summary>Loads one build and sets up its SGEMM benchmark once per shape (Candle's methods only).</summary>
    private static List<(string Name, int Threads, Action Run)> SgemmCases(string directory, string name, int threads)
    {
        var context = new BuildLoadContext(name, Path.GetFullPath(directory));
        var perf = context.LoadFromAssemblyPath(Path.Combine(context.Directory, "Candle.Perf.dll"));
        _runtime = context.LoadFromAssemblyName(new AssemblyName("Candle.Runtime"));
        var type = perf.GetType("Candle.Perf.Gemm.SgemmBenchmarks", throwOnError: true)!;
        var shapes = ((System.Collections.IEnumerable)type.GetProperty("Shapes")!.GetValue(null)!).Cast<object>().ToList();
        var cases = new List<(string, int, Action)>();
        foreach (object shape in shapes)
        {
            object suite = Activator.CreateInstance(type)!;
            type.GetProperty("Shape")!.SetValue(suite, shape);
            type.GetMethod("Setup")!.Invoke(suite, null);
            if (threads != 2)
            {
                // The benchmark's pool has two threads: the build's own pool of the asked size replaces it.
                var pool = type.GetField("_pool", BindingFlags.NonPublic | BindingFlags.Instance)!;
                pool.SetValue(suite, pool.FieldType.GetMethod("Create", [typeof(int)])!.Invoke(null, [threads]));
            }

            foreach (string method in new[] { "CandleSgemm", "CandlePackedB" })
            {
                var run = type.GetMethod(method)!.CreateDelegate<Action>(suite);
                run();
                cases.Add(($"{method} {shape}", threads, run));
            }
        }

        return cases;
    }

    private static double Time(Action run, int count)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++) run();
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / count;
    }

    private static string Format(double ns) =>
        ns >= 1e4 ? string.Create(CultureInfo.InvariantCulture, $"{ns / 1e3:F1} µs") : string.Create(CultureInfo.InvariantCulture, $"{ns:F1} ns");
}
