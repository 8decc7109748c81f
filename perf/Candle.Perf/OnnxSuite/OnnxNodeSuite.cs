using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Candle.Compiler.Backends;
using Candle.Onnx;
using Candle.Runtime.Tensors;

namespace Candle.Perf.OnnxSuite;

/// <summary>
/// Runs ONNX's backend node-test suite (a folder of cases, each <c>model.onnx</c> and <c>test_data_set_*/input_i.pb,
/// output_i.pb</c>, as <c>onnx/backend/test/data/node</c> in the ONNX repository) through
/// <see cref="OnnxEvaluation.Run"/>, the path <c>candle eval model.onnx</c> takes, and sorts every case into pass, import
/// error (naming the op), wrong (outputs differ beyond ONNX's tolerance), crash (any other exception) or timeout.
/// The tolerance is ONNX's loader's (<c>onnx/backend/test/loader</c>): rtol 1e-3 and atol 1e-7 unless the case's
/// <c>data.json</c> names others, and, as ONNX's own run of the suite on its reference evaluator
/// (<c>onnx/test/test_backend_reference.py</c>) does, atol 1e-6 for the DFT cases, whose expected outputs are
/// numpy's single-precision FFT (an element that is exactly 0 is stored as 1.9e-7).
/// <c>onnx-node-suite DIR [--device cpu|reference] [--filter TEXT] [--report FILE]</c>.
/// </summary>
internal static partial class OnnxNodeSuite
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The cases ONNX's reference-evaluator run gives atol 1e-6 (on Linux), by name.</summary>
    private static readonly HashSet<string> SinglePrecisionFft = new(StringComparer.Ordinal)
    {
        "test_dft", "test_dft_axis", "test_dft_axis_opset19", "test_dft_inverse", "test_dft_inverse_opset19", "test_dft_opset19",
    };

    public static int Run(string[] args)
    {
        if (args.Length == 0) throw new ArgumentException("usage: onnx-node-suite DIR [--device cpu|reference] [--filter TEXT] [--report FILE]");
        string root = args[0];
        string device = Option(args, "--device") ?? "cpu";
        string? filter = Option(args, "--filter");
        string? reportPath = Option(args, "--report");
        var backend = BackendRegistry.Get(device);
        var cases = Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .Where(d => filter is null || Path.GetFileName(d).Contains(filter, StringComparison.Ordinal)).ToList();
        var results = new List<(string Name, string Kind, string Detail)>();
        var clock = Stopwatch.StartNew();
        foreach (string dir in cases)
        {
            var (kind, detail) = RunCase(dir, backend);
            results.Add((Path.GetFileName(dir), kind, detail));
            Console.WriteLine($"{kind,-7} {Path.GetFileName(dir)}{(detail.Length == 0 ? string.Empty : "  " + Shorten(detail))}");
        }

        var report = Report(root, device, results, clock.Elapsed);
        Console.WriteLine(report);
        if (reportPath is not null) File.WriteAllText(reportPath, report + "\n" + string.Join("\n", results.Select(r => $"{r.Kind}\t{r.Name}\t{r.Detail.ReplaceLineEndings(" ")}")) + "\n");
        return 0;
    }

    private static (string Kind, string Detail) RunCase(string dir, IBackend backend)
    {
        string model = Path.Combine(dir, "model.onnx");
        var task = Task.Run(() => Evaluate(model, dir, backend));
        if (!task.Wait(Timeout)) return ("timeout", $"still running after {Timeout.TotalSeconds} s");
        return task.Result;
    }

    private static (string Kind, string Detail) Evaluate(string model, string dir, IBackend backend)
    {
        try
        {
            var declared = OnnxModelInfo.Read(model);
            foreach (string set in Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal))
            {
                HostTensor[] given, expected;
                try
                {
                    given = ReadAll(set, "input");
                    expected = ReadAll(set, "output");
                }
                catch (Exception e) when (e is OnnxFormatException or OnnxImportException)
                {
                    // Sequence, optional or unsupported element types in the data: the import must already refuse the model.
                    OnnxModel.Load(model);
                    throw;
                }

                if (given.Length != declared.Inputs.Count) return ("crash", $"{given.Length} input files for {declared.Inputs.Count} graph inputs");
                var inputs = declared.Inputs.Select((d, i) => (d.Name, given[i])).ToDictionary(p => p.Name, p => p.Item2, StringComparer.Ordinal);
                var actual = OnnxEvaluation.Run(model, inputs, backend, inputsSource: set);
                if (actual.Count != expected.Length) return ("wrong", $"{actual.Count} outputs, expected {expected.Length}");
                var (rtol, atol) = Tolerance(dir);
                for (int i = 0; i < expected.Length; i++)
                {
                    if (Compare(expected[i], actual[i].Value, rtol, atol) is { } why) return ("wrong", $"output {i} ({actual[i].Key}): {why}");
                    try
                    {
                        // The output converts back to the element type the graph declares (uint16, float8, ...).
                        OnnxDeclaredOutputs.Encode(actual[i].Value, declared.Outputs[i].ElementType);
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        return ("wrong", $"output {i} ({actual[i].Key}) is not of its declared type: {e.Message}");
                    }
                }
            }

            return ("pass", string.Empty);
        }
        catch (OnnxImportException e)
        {
            return ("import", e.Message);
        }
        catch (Exception e)
        {
            return ("crash", $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static HostTensor[] ReadAll(string set, string kind)
    {
        var list = new List<HostTensor>();
        for (int i = 0; File.Exists(Path.Combine(set, $"{kind}_{i}.pb")); i++) list.Add(OnnxTensorFile.Read(Path.Combine(set, $"{kind}_{i}.pb")));
        return [.. list];
    }

    /// <summary>The case's rtol and atol: ONNX's defaults, its data.json's, or the DFT cases' atol (see the class).</summary>
    private static (double Rtol, double Atol) Tolerance(string dir)
    {
        double rtol = 1e-3, atol = SinglePrecisionFft.Contains(Path.GetFileName(dir)) ? 1e-6 : 1e-7;
        string json = Path.Combine(dir, "data.json");
        if (File.Exists(json))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            if (doc.RootElement.TryGetProperty("rtol", out var r)) rtol = r.GetDouble();
            if (doc.RootElement.TryGetProperty("atol", out var a)) atol = a.GetDouble();
        }

        return (rtol, atol);
    }

    /// <summary>ONNX's comparison (numpy's assert_allclose; NaN matches NaN), or null when equal.</summary>
    private static string? Compare(HostTensor expected, HostTensor actual, double rtol, double atol)
    {
        if (expected.DType != actual.DType) return $"dtype {actual.DType}, expected {expected.DType}";
        if (!expected.Shape.SequenceEqual(actual.Shape)) return $"shape [{string.Join(", ", actual.Shape)}], expected [{string.Join(", ", expected.Shape)}]";
        for (long i = 0; i < expected.ElementCount; i++)
        {
            double b = expected.GetDouble(i), a = actual.GetDouble(i);
            if (a == b || double.IsNaN(a) && double.IsNaN(b)) continue;
            if (!(Math.Abs(a - b) <= atol + (rtol * Math.Abs(b)))) return string.Create(CultureInfo.InvariantCulture, $"element {i} is {a}, expected {b}");
        }

        return null;
    }

    private static string Report(string root, string device, List<(string Name, string Kind, string Detail)> results, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        int total = results.Count;
        sb.AppendLine(CultureInfo.InvariantCulture, $"ONNX node suite {root} on {device}: {total} cases in {elapsed.TotalSeconds:F0} s");
        foreach (var g in results.GroupBy(r => r.Kind).OrderByDescending(g => g.Count()))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {g.Key,-7} {g.Count(),5}  {100.0 * g.Count() / Math.Max(1, total),5:F1}%");
        }

        sb.AppendLine("import errors by op:");
        foreach (var g in results.Where(r => r.Kind == "import").GroupBy(r => OpOf(r.Detail)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {g.Count(),4}  {g.Key}");
        }

        foreach (string kind in new[] { "wrong", "crash", "timeout" })
        {
            var bad = results.Where(r => r.Kind == kind).ToList();
            if (bad.Count == 0) continue;
            sb.AppendLine(CultureInfo.InvariantCulture, $"{kind}:");
            foreach (var r in bad) sb.AppendLine(CultureInfo.InvariantCulture, $"  {r.Name}: {Shorten(r.Detail)}");
        }

        return sb.ToString();
    }

    /// <summary>The op an import error names: the node label "(OpType)" or a graph input.</summary>
    private static string OpOf(string message)
    {
        var m = NodeLabel().Match(message);
        return m.Success ? m.Groups[1].Value : message.Contains("graph input", StringComparison.Ordinal) ? "(graph input type)" : "(other)";
    }

    private static string Shorten(string s)
    {
        s = s.ReplaceLineEndings(" ");
        return s.Length > 300 ? s[..300] + "..." : s;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    [GeneratedRegex(@"node (?:'[^']*'|#\d+) \(([A-Za-z0-9_]+)\)")]
    private static partial Regex NodeLabel();
}
