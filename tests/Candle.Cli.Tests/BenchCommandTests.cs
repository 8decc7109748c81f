using System.Globalization;
using System.Text.Json;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary>
/// <c>candle bench</c> sweeps (<c>-p 4,8 -n 2</c>) in llama-bench's formats: one record per test and thread count;
/// each record's mean and sample standard deviation are recomputed here from the repetitions it lists.
/// </summary>
public class BenchCommandTests
{
    private static readonly string[] Sweep = ["bench", Fixtures.Model("llama"), "-p", "4,8", "-n", "2", "-t", "1", "-r", "3"];

    private static void AssertStatistics(double mean, double stddev, IReadOnlyList<double> samples)
    {
        Assert.Equal(3, samples.Count);
        Assert.All(samples, s => Assert.True(s > 0 && double.IsFinite(s)));
        double m = samples.Sum() / samples.Count;
        double sd = Math.Sqrt(samples.Sum(s => (s - m) * (s - m)) / (samples.Count - 1));
        Assert.Equal(m, mean, m * 1e-12);
        Assert.Equal(sd, stddev, Math.Max(sd, 1) * 1e-12);
    }

    [Fact]
    public void Csv_has_one_record_per_test_with_its_repetitions()
    {
        var (code, output, err) = CliRunner.Run([.. Sweep, "--output", "csv"]);
        Assert.True(code == 0, err);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal("model,model_type,backend,n_threads,n_prompt,n_gen,test,avg_ts,stddev_ts,samples_ts", lines[0]);
        Assert.Equal(["pp4", "pp8", "tg2"], lines.Skip(1).Select(l => l.Split(',')[6]));
        foreach (string line in lines.Skip(1))
        {
            var f = line.Split(',');
            Assert.Equal(["llama", "llama", "cpu", "1"], f[..4]);
            Assert.Equal(f[6], f[4] != "0" ? "pp" + f[4] : "tg" + f[5]);
            var samples = f[9].Split(';').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToList();
            AssertStatistics(double.Parse(f[7], CultureInfo.InvariantCulture), double.Parse(f[8], CultureInfo.InvariantCulture), samples);
        }
    }

    [Fact]
    public void Json_is_an_array_of_tests_with_their_repetitions()
    {
        var (code, output, err) = CliRunner.Run([.. Sweep, "-o", "json"]);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var tests = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(["pp4", "pp8", "tg2"], tests.Select(t => t.GetProperty("test").GetString()));
        Assert.Equal([4, 8, 0], tests.Select(t => t.GetProperty("n_prompt").GetInt32()));
        Assert.Equal([0, 0, 2], tests.Select(t => t.GetProperty("n_gen").GetInt32()));
        foreach (var t in tests)
        {
            Assert.Equal(1, t.GetProperty("n_threads").GetInt32());
            AssertStatistics(t.GetProperty("avg_ts").GetDouble(), t.GetProperty("stddev_ts").GetDouble(),
                [.. t.GetProperty("samples_ts").EnumerateArray().Select(s => s.GetDouble())]);
        }
    }

    [Fact]
    public void Progress_names_each_test_on_stderr_with_the_median_of_its_repetitions()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, CandleCli.Run([.. Sweep, "-o", "json"], TextReader.Null, stdout, stderr, progress: true));
        using var doc = JsonDocument.Parse(stdout.ToString());
        string err = stderr.ToString();
        Assert.DoesNotContain("\u001b[", err, StringComparison.Ordinal);
        foreach (var t in doc.RootElement.EnumerateArray())
        {
            var samples = t.GetProperty("samples_ts").EnumerateArray().Select(s => s.GetDouble()).Order().ToArray();
            double median = samples[samples.Length / 2];
            string test = t.GetProperty("test").GetString()!;
            var m = System.Text.RegularExpressions.Regex.Match(err, $@"(^|\n){test} \(1 threads\): median ([0-9.]+) tok/s over 3 runs in \d+\.\d s\n");
            Assert.True(m.Success, err);
            Assert.Equal(median, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), 0.0051);
        }
    }

    [Fact]
    public void Markdown_is_a_table_of_mean_and_deviation()
    {
        var (code, output, err) = CliRunner.Run(Sweep);
        Assert.True(code == 0, err);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.Matches(@"^\| model +\| type +\| backend +\| threads \| test +\| +t/s \|$", lines[0]);
        Assert.Matches(@"^\|-+\|-+\|-+\|-+:\|-+:\|-+:\|$", lines[1]);
        Assert.All(lines.Skip(2), l => Assert.Matches(@"^\| llama +\| llama +\| cpu +\| +1 \| +(pp4|pp8|tg2) \| +\d+\.\d\d ± \d+\.\d\d \|$", l));
        Assert.All(lines, l => Assert.Equal(lines[0].Length, l.Length));
    }

    [Theory]
    [InlineData("-p", "4,x", "--prompt-tokens: '4,x' is not a comma-separated list of whole numbers")]
    [InlineData("-n", "-1", "--gen-tokens: '-1' is not a comma-separated list of whole numbers")]
    [InlineData("-t", "1,0", "--threads must be ≥ 1, got 0")]
    [InlineData("-o", "xml", "--output: 'xml' is not md, csv or json")]
    public void Bad_sweeps_are_one_line_errors(string flag, string value, string message)
    {
        var (code, _, err) = CliRunner.Run("bench", Fixtures.Model("llama"), flag, value);
        Assert.Equal(1, code);
        Assert.Equal("error: " + message + "\n", err);
    }
}
