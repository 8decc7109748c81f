using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;

namespace Candle.Onnx.Tests;

/// <summary>
/// ONNX's backend node tests (tests/fixtures/onnx-node): every case imports, and its outputs match the expected
/// outputs the ONNX suite ships, through the reference interpreter and through the compiled CPU plan. A case of an
/// op the importer does not map is listed in <see cref="Unsupported"/> and must fail at import naming the op.
/// </summary>
public sealed class NodeTests
{
    /// <summary>Cases whose op is not mapped yet, by case name, with the op type the error must name.</summary>
    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal)
    {
    };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in NodeTestCase.All()) data.Add(c.Name);
        return data;
    }

    [Fact]
    public void The_fixture_folder_has_the_sample_cases() => Assert.True(NodeTestCase.All().Count() >= 20);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reference_interpreter_matches_the_expected_outputs(string name) => Check(name, cpu: false);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_plan_matches_the_expected_outputs(string name) => Check(name, cpu: true);

    private static void Check(string name, bool cpu)
    {
        var c = new NodeTestCase(Path.Combine(NodeTestCase.Root, name));
        if (Unsupported.TryGetValue(name, out string? op))
        {
            var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(c.ModelPath));
            Assert.Contains($"op '{op}' of domain", e.Message, StringComparison.Ordinal);
            Assert.Contains(c.ModelPath, e.Message, StringComparison.Ordinal);
            return;
        }

        foreach (var (given, expected) in c.DataSets())
        {
            // Shape-like int64 inputs (a Reshape's shape, Slice's starts...) are fixed at import so that they fold.
            var declared = OnnxModelInfo.Read(c.ModelPath).Inputs;
            Assert.Equal(declared.Count, given.Length);
            var byName = declared.Select((d, i) => (d.Name, Value: given[i])).ToDictionary(p => p.Name, p => p.Value);
            var fixedInputs = OnnxEvaluation.FixedInputs(OnnxProtoFiles.Parse(c.ModelPath, Proto.ModelProto.Parser), byName);
            var graph = OnnxModel.Load(c.ModelPath, new OnnxImportOptions { ConstantInputs = fixedInputs }).Graph;
            var inputs = graph.Inputs.Select(i => byName[i.Attr<InputAttrs>().Name]).ToList();
            using var plan = cpu ? CandleCompiler.Compile(graph, new CompileOptions()) : null;
            var actual = plan is null ? ReferenceInterpreter.Run(graph, inputs) : plan.Run(inputs);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                TensorAssert.Close(expected[i], actual[i], $"{name} output {i} ({graph.OutputNames[i]})");
            }
        }
    }
}
