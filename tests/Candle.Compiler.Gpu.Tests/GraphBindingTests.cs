using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Training;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Runs that feed their outputs back as the next run's inputs, as a train step does with its parameters, with graph
/// capture asked for: outputs not written in place go to held buffers that are not inputs of the run, so no run
/// overwrites a buffer it reads and the bindings cycle through a few (what recorded CUDA graphs need); the values equal the reference
/// interpreter's and those of runs without capture. On CUDA the runs are recorded and replayed, and a GPT-2 train step
/// with graphs reproduces the CPU backend's losses.
/// </summary>
public class GraphBindingTests
{
    private const int Runs = 10;

    [Fact]
    public void FedBackOutputsRepeatTheBindingOnTheCpuAccelerator() => CheckFedBack(GpuBackends.IlgpuCpu, crossed: false);

    [Fact]
    public void OutputsWrittenOverOtherInputsStayCorrectOnTheCpuAccelerator() => CheckFedBack(GpuBackends.IlgpuCpu, crossed: true);

    [Fact]
    public void AHeldOutputIsNotWrittenWhileASliceOfItIsRead()
    {
        var r = Input("r", DType.F32, Shape.Of(64));
        var g = new Graph([r], [Binary(Op.Add, Binary(Op.Mul, r, 0.5), 1.0)], ["r"]);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu, CaptureGraphs = true });
        var device = exe.Device;
        var values = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        using var first = DeviceTensor.Upload(HostTensor.FromArray(values, 64), device);
        var held = exe.RunOnDevice([first])[0];

        // The same memory under another buffer object (a slice of the whole held buffer) as the next input.
        using var slice = device.Slice(held.Buffer, 0, held.Buffer.Bytes);
        var next = exe.RunOnDevice([DeviceTensor.View(slice, DType.F32, 64)])[0];
        Assert.NotSame(held.Buffer, next.Buffer);
        var want = values.Select(v => (((v * 0.5f) + 1f) * 0.5f) + 1f).ToArray();
        Assert.Equal(want, next.Download().ToFloat32());
    }

    [CudaFact]
    public void CudaFedBackOutputsAreReplayedAsGraphs()
    {
        var exe = CheckFedBack(GpuBackends.Cuda, crossed: false);
        Assert.Null(exe.GraphStatus);
        Assert.True(exe.GraphCaptures >= 1);
        Assert.Equal(exe.RepeatedBindings, exe.GraphReplays);
    }

    [CudaFact]
    public void CudaTrainStepsWithGraphsMatchTheCpu()
    {
        string dir = Fixtures.Model("gpt2");
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "train-inputs.safetensors"));
        var ids = file.Get("input_ids").Clone();
        var labels = file.Get("labels").Clone();
        List<double> Losses(IBackend backend)
        {
            using var trainer = new LanguageModelTrainer(ModelRegistry.Load(dir), new AdamW(1e-3, 0.9, 0.999, 1e-8, 0.01), backend, schedule: LearningRateSchedule.Constant);
            var losses = new List<double>();
            for (int s = 0; s < 8; s++) losses.Add(trainer.Step(ids, labels));
            losses.Add(trainer.Loss(ids, labels));
            if (trainer.StepExecutable is GpuExecutable g) Assert.True(g.GraphReplays >= 4, $"{g.GraphReplays} replays, {g.GraphCaptures} captures ({g.GraphStatus})");
            return losses;
        }

        var cpu = Losses(new CpuBackend());
        var cuda = Losses(GpuBackends.Cuda);
        for (int s = 0; s < cpu.Count; s++)
        {
            Assert.True(Math.Abs(cuda[s] - cpu[s]) <= 1e-4 * Math.Abs(cpu[s]), $"step {s}: CUDA with graphs {cuda[s]}, CPU {cpu[s]} (CUDA: {string.Join(", ", cuda)}; CPU: {string.Join(", ", cpu)})");
        }
    }

    /// <summary>
    /// Two donated inputs p and q and a state r that is not donated (its update cannot be written over any input), and a
    /// loss; x uploaded each run into one kept tensor, the updates fed back as inputs. Each update reads its own input,
    /// as an optimizer's do, so the runs cycle between two bindings; <paramref name="crossed"/> updates each from the
    /// others too, and the scheduler may then write one over another's input (the bindings then cycle further, so only
    /// the values are checked).
    /// </summary>
    private static GpuExecutable CheckFedBack(GpuBackend backend, bool crossed)
    {
        const int n = 300;
        var p = DonatedInput("p", DType.F32, Shape.Of(n));
        var q = DonatedInput("q", DType.F32, Shape.Of(n));
        var r = Input("r", DType.F32, Shape.Of(n));
        var x = Input("x", DType.F32, Shape.Of(n));
        var pNew = Binary(Op.Add, Binary(Op.Mul, p, 0.9), Binary(Op.Mul, crossed ? Binary(Op.Mul, q, x) : x, 0.1));
        var qNew = Binary(Op.Sub, q, Binary(Op.Mul, crossed ? Binary(Op.Mul, p, x) : Binary(Op.Mul, x, x), 0.05));
        var rNew = Binary(Op.Add, Binary(Op.Mul, r, 0.5), crossed ? Binary(Op.Mul, p, q) : x);
        var loss = Reduce(Op.Sum, Binary(Op.Mul, Binary(Op.Mul, p, q), r));
        var g = new Graph([p, q, r, x], [loss, pNew, qNew, rNew], ["loss", "p", "q", "r"]);
        var rng = new Random(7);
        HostTensor Random() => HostTensor.FromArray([.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2) - 1))], n);
        HostTensor[] state = [Random(), Random(), Random()];
        var xs = Enumerable.Range(0, Runs).Select(_ => Random()).ToArray();

        var expected = new List<HostTensor[]>();
        var host = state;
        foreach (var xv in xs)
        {
            var outs = ReferenceInterpreter.Run(g, [.. host, xv]);
            expected.Add(outs);
            host = outs[1..];
        }

        var plain = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        var held = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend, CaptureGraphs = true });
        using (plain)
        {
            Assert.False(plain.CaptureGraphs);
            Assert.True(held.CaptureGraphs);
            var without = FeedBack(plain, state, xs, expected, cycles: false);
            var with = FeedBack(held, state, xs, expected, cycles: !crossed);
            for (int run = 0; run < Runs; run++)
            {
                for (int o = 0; o < 4; o++) Assert.Equal(without[run][o].ToFloat32(), with[run][o].ToFloat32());
            }
        }

        if (!crossed) Assert.Equal(Runs - 3, held.RepeatedBindings);
        held.Dispose();
        return held;
    }

    private static List<HostTensor[]> FeedBack(GpuExecutable exe, HostTensor[] state, HostTensor[] xs, List<HostTensor[]> expected, bool cycles)
    {
        var device = exe.Device;
        var uploaded = state.Select(t => DeviceTensor.Upload(t, device)).ToArray();
        using var x = DeviceTensor.Allocate(device, DType.F32, xs[0].ShapeArray());
        var current = uploaded;
        var got = new List<HostTensor[]>();
        var bindings = new List<DeviceBuffer[]>();
        var owned = new List<DeviceTensor>(uploaded);
        for (int run = 0; run < xs.Length; run++)
        {
            device.CopyFromHost(xs[run].Data.Span, x.Buffer, 0);
            var outs = exe.RunOnDevice([.. current, x]);
            var host = outs.Select(o => o.Download()).ToArray();
            got.Add(host);
            for (int o = 0; o < 4; o++)
            {
                var want = expected[run][o].ToFloat32();
                var have = host[o].ToFloat32();
                for (int i = 0; i < want.Length; i++)
                {
                    Assert.True(Math.Abs(have[i] - want[i]) <= 1e-5 * (1 + Math.Abs(want[i])), $"run {run}, output {o}, element {i}: {have[i]}, reference {want[i]}");
                }
            }

            // Only the donated inputs' buffers (p, q) may be written; r's and x's never.
            for (int o = 0; o < 4; o++)
            {
                Assert.NotSame(current[2].Buffer, outs[o].Buffer);
                Assert.NotSame(x.Buffer, outs[o].Buffer);
            }

            bindings.Add([.. current.Select(t => t.Buffer), .. outs.Select(t => t.Buffer)]);
            current = outs[1..];
            owned.AddRange(outs);
        }

        if (cycles)
        {
            // The first run binds the uploaded state, the second the first held buffers; from the third on each run is
            // bound as the run two before it.
            for (int run = 3; run < xs.Length; run++) Assert.Equal(bindings[run - 2], bindings[run]);
            Assert.NotEqual(bindings[1], bindings[2]);
        }

        // Uploaded and fresh outputs own their memory (held and in-place outputs are views, which free nothing).
        foreach (var o in owned) o.Dispose();
        return got;
    }
}
