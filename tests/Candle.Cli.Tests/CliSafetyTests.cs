using System.Globalization;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary>
/// Hostile flags, inputs and files: every error is one line naming the flag, file or input in the command's terms
/// (never a .NET parameter or type name), thread counts are bounded by the machine, integer inputs must be integers,
/// a padding mask is honoured, and inspect never prints control characters.
/// </summary>
public sealed class CliSafetyTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-cli-safety-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.NotEqual(0, r.Code);
        string err = r.Err.TrimEnd('\r', '\n');
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', err);
        Assert.DoesNotContain("System.", err, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Actual value", err, StringComparison.Ordinal);
        foreach (string f in fragments) Assert.Contains(f, err, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_threads_beyond_the_machine_is_an_error_naming_the_flag()
    {
        var r = CliRunner.Run("bench", Fixtures.Model("llama"), "--threads", "3000", "--prompt-tokens", "4", "--gen-tokens", "1", "--repetitions", "1");
        AssertOneLineError(r, "--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("--max-new-tokens", "-1")]
    [InlineData("--top-k", "-2")]
    [InlineData("--top-p", "7")]
    [InlineData("--temperature", "-1")]
    [InlineData("--repetition-penalty", "0")]
    public void Generate_range_errors_name_the_flag_not_the_property(string flag, string value)
    {
        AssertOneLineError(CliRunner.Run("generate", Fixtures.Model("llama"), "--prompt-ids", "1,2", flag, value), flag);
    }

    [Theory]
    [InlineData("bench", "--threads", "many")]
    [InlineData("generate", "--max-new-tokens", "1.5")]
    [InlineData("generate", "--seed", "-1")]
    [InlineData("generate", "--top-p", "abc")]
    public void Parse_errors_name_the_flag_not_a_dotnet_type(string command, string flag, string value)
    {
        string[] args = command == "generate" ? [command, Fixtures.Model("llama"), "--prompt-ids", "1", flag, value] : [command, Fixtures.Model("llama"), flag, value];
        AssertOneLineError(CliRunner.Run(args), flag);
    }

    [Fact]
    public void Float_input_ids_are_rejected_not_truncated()
    {
        string inputs = Path.Combine(_tmp, "float-ids.safetensors");
        SafeTensorsWriter.Write(inputs, [new("input_ids", HostTensor.FromArray(new[] { 5.7f, 1f, 2f }, 1, 3))]);
        var r = CliRunner.Run("eval", Fixtures.Model("llama"), "--inputs", inputs, "--out", Path.Combine(_tmp, "out.safetensors"));
        AssertOneLineError(r, inputs, "input_ids", "integer");
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    public void Non_finite_float_inputs_are_rejected_naming_the_input_and_position(float bad, string shown)
    {
        string inputs = Path.Combine(_tmp, "bad-features.safetensors");
        var features = new float[16 * 64];
        features[37] = bad;
        SafeTensorsWriter.Write(inputs,
        [
            new("input_features", HostTensor.FromArray(features, 1, 16, 64)),
            new("decoder_input_ids", HostTensor.FromArray(new[] { 1L, 2L }, 1, 2)),
        ]);
        var r = CliRunner.Run("eval", Fixtures.Model("whisper"), "--inputs", inputs, "--out", Path.Combine(_tmp, "out.safetensors"));
        AssertOneLineError(r, inputs, "input_features", shown, "position 37");
    }

    [Fact]
    public void A_double_input_too_large_for_float32_is_rejected()
    {
        string inputs = Path.Combine(_tmp, "huge-features.safetensors");
        var features = new double[16 * 64];
        features[5] = 1e300;
        SafeTensorsWriter.Write(inputs,
        [
            new("input_features", HostTensor.FromArray(features, 1, 16, 64)),
            new("decoder_input_ids", HostTensor.FromArray(new[] { 1L, 2L }, 1, 2)),
        ]);
        var r = CliRunner.Run("eval", Fixtures.Model("whisper"), "--inputs", inputs, "--out", Path.Combine(_tmp, "out.safetensors"));
        AssertOneLineError(r, "input_features", "position 5", "float32");
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_name_the_input()
    {
        string inputs = Path.Combine(_tmp, "big-ids.safetensors");
        SafeTensorsWriter.Write(inputs, [new("input_ids", HostTensor.FromArray(new[] { 1L, 512L }, 1, 2))]);
        var r = CliRunner.Run("eval", Fixtures.Model("llama"), "--inputs", inputs, "--out", Path.Combine(_tmp, "out.safetensors"));
        AssertOneLineError(r, "input_ids", "512");
    }

    [Fact]
    public void Inspect_escapes_control_characters_in_names_and_metadata()
    {
        string file = Path.Combine(_tmp, "escapes.safetensors");
        SafeTensorsWriter.Write(
            file,
            [new("evil\u001b[31m\u0007name\nnext", HostTensor.FromArray(new[] { 1f }, 1))],
            new Dictionary<string, string> { ["k\u001b]0;title\u0007"] = "v\u009b2J\u202Eok" });
        var (code, output, err) = CliRunner.Run("inspect", file);
        Assert.True(code == 0, err);
        Assert.DoesNotContain(output, c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'));
        Assert.DoesNotContain('\u202E', output);
        Assert.Contains("evil\\e[31m\\u{0007}name\\nnext", output, StringComparison.Ordinal);
        Assert.Contains("k\\e]0;title\\u{0007} = v\\u{009B}2J\\u{202E}ok", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_with_fewer_layers_than_the_checkpoint_needs_allow_unused_tensors()
    {
        string dir = Path.Combine(_tmp, "one-layer");
        Directory.CreateDirectory(dir);
        string source = Fixtures.Model("llama");
        File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(Path.Combine(source, "config.json")).Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1", StringComparison.Ordinal));
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        string[] args = ["generate", dir, "--prompt-ids", "1,2", "--max-new-tokens", "1", "--greedy"];
        AssertOneLineError(CliRunner.Run(args), "num_hidden_layers", "model.layers.1");
        var (code, _, err) = CliRunner.Run([.. args, "--allow-unused-tensors"]);
        Assert.True(code == 0, err);
    }

    [Fact]
    public void Out_of_memory_is_reported_as_one_line_naming_the_stage()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new CliContext(stdout, stderr) { Stage = "loading the model" };
        int code = ctx.Guard(() => throw new OutOfMemoryException());
        Assert.Equal(1, code);
        Assert.Equal("error: out of memory while loading the model", stderr.ToString().TrimEnd());
    }

    /// <summary>
    /// A left-padded batch with its attention_mask gives, at every real token, the logits of that row run alone
    /// without padding (transformers' semantics: padded keys are never attended, and rotary attention depends only on
    /// relative positions). The same batch without the mask differs, so the comparison can fail.
    /// </summary>
    [Fact]
    public void Eval_honours_attention_mask_for_a_causal_lm()
    {
        string model = Fixtures.Model("llama");
        const int Seq = 7, Vocab = 512;
        long[][] rows = [[1, 17, 301, 44, 9, 120, 7], [1, 88, 3, 250]];
        var ids = new long[2 * Seq];
        var mask = new long[2 * Seq];
        for (int b = 0; b < 2; b++)
        {
            int pad = Seq - rows[b].Length;
            for (int i = 0; i < Seq; i++)
            {
                ids[(b * Seq) + i] = i < pad ? 0 : rows[b][i - pad];
                mask[(b * Seq) + i] = i < pad ? 0 : 1;
            }
        }

        float[] padded = EvalLogits(model, "padded", ("input_ids", HostTensor.FromArray(ids, 2, Seq)), ("attention_mask", HostTensor.FromArray(mask, 2, Seq)));
        float[] unmasked = EvalLogits(model, "unmasked", ("input_ids", HostTensor.FromArray(ids, 2, Seq)));
        double worst = 0, unmaskedWorst = 0;
        for (int b = 0; b < 2; b++)
        {
            int n = rows[b].Length, pad = Seq - n;
            float[] alone = EvalLogits(model, "row" + b, ("input_ids", HostTensor.FromArray(rows[b], 1, n)));
            for (int i = 0; i < n; i++)
            {
                for (int v = 0; v < Vocab; v++)
                {
                    float want = alone[(i * Vocab) + v];
                    worst = Math.Max(worst, Math.Abs(padded[(((b * Seq) + pad + i) * Vocab) + v] - want));
                    unmaskedWorst = Math.Max(unmaskedWorst, Math.Abs(unmasked[(((b * Seq) + pad + i) * Vocab) + v] - want));
                }
            }
        }

        Assert.True(worst <= 1e-4, $"padded rows differ from the rows alone by {worst}");
        Assert.True(unmaskedWorst > 1e-2, $"without the mask the padded rows should differ, but differ by only {unmaskedWorst}");
    }

    private float[] EvalLogits(string model, string tag, params (string Name, HostTensor Tensor)[] inputs)
    {
        string inPath = Path.Combine(_tmp, tag + "-in.safetensors");
        string outPath = Path.Combine(_tmp, tag + "-out.safetensors");
        SafeTensorsWriter.Write(inPath, inputs.Select(x => new KeyValuePair<string, HostTensor>(x.Name, x.Tensor)));
        var (code, _, err) = CliRunner.Run("eval", model, "--inputs", inPath, "--out", outPath);
        Assert.True(code == 0, err);
        using var f = SafeTensorsFile.Open(outPath);
        return f.Get("logits").ToFloat32();
    }
}
