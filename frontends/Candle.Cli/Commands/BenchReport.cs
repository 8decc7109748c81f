using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Candle.Cli.Commands;

/// <summary>
/// The rows of a <c>candle bench</c> sweep and their rendering as llama-bench renders them: a markdown table
/// (<c>t/s</c> as mean ± sample standard deviation over the repetitions), CSV and JSON (one object per test, with
/// every repetition's tokens per second in <c>samples_ts</c>).
/// </summary>
internal static class BenchReport
{
    /// <summary>The output formats.</summary>
    public static readonly string[] Formats = ["md", "csv", "json"];

    /// <summary>One test: the model, where and with how many threads it ran, ppN or tgN, and each repetition's tokens per second.</summary>
    public sealed record Row(string Model, string ModelType, string Backend, int Threads, int PromptTokens, int GenTokens, IReadOnlyList<double> Samples)
    {
        /// <summary>llama-bench's test name: <c>pp512</c> or <c>tg128</c>.</summary>
        public string Test => PromptTokens > 0 ? $"pp{PromptTokens}" : $"tg{GenTokens}";

        /// <summary>Mean tokens per second.</summary>
        public double Mean => Samples.Average();

        /// <summary>Sample standard deviation of the tokens per second (0 for one repetition).</summary>
        public double StdDev
        {
            get
            {
                if (Samples.Count < 2) return 0;
                double mean = Mean;
                return Math.Sqrt(Samples.Sum(s => (s - mean) * (s - mean)) / (Samples.Count - 1));
            }
        }
    }

    /// <summary>The rows in <paramref name="format"/> (md, csv or json).</summary>
    public static string Render(IReadOnlyList<Row> rows, string format) => format switch
    {
        "md" => Markdown(rows),
        "csv" => Csv(rows),
        "json" => Json(rows),
        _ => throw new ArgumentException($"--output: '{CliText.Escape(format)}' is not md, csv or json"),
    };

    private static string Markdown(IReadOnlyList<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        string[] head = ["model", "type", "backend", "threads", "test", "t/s"];
        var cells = rows.Select(r => new[]
        {
            r.Model, r.ModelType, r.Backend, r.Threads.ToString(inv), r.Test,
            string.Create(inv, $"{r.Mean:F2} ± {r.StdDev:F2}"),
        }).ToList();
        var widths = head.Select((h, c) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(row => row[c].Length))).ToArray();
        bool[] right = [false, false, false, true, true, true];
        var sb = new StringBuilder();
        void Line(IReadOnlyList<string> values) =>
            sb.Append("| ").AppendJoin(" | ", values.Select((v, c) => right[c] ? v.PadLeft(widths[c]) : v.PadRight(widths[c]))).Append(" |\n");
        Line(head);
        sb.Append('|').AppendJoin('|', widths.Select((w, c) => right[c] ? new string('-', w + 1) + ":" : new string('-', w + 2))).Append("|\n");
        foreach (var row in cells) Line(row);
        return sb.ToString();
    }

    private static string Csv(IReadOnlyList<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("model,model_type,backend,n_threads,n_prompt,n_gen,test,avg_ts,stddev_ts,samples_ts\n");
        foreach (var r in rows)
        {
            string samples = string.Join(';', r.Samples.Select(s => s.ToString("R", inv)));
            sb.AppendJoin(',', [Quote(r.Model), Quote(r.ModelType), Quote(r.Backend), r.Threads.ToString(inv), r.PromptTokens.ToString(inv),
                r.GenTokens.ToString(inv), r.Test, r.Mean.ToString("R", inv), r.StdDev.ToString("R", inv), samples]).Append('\n');
        }

        return sb.ToString();
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Json(IReadOnlyList<Row> rows)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("model", r.Model);
                w.WriteString("model_type", r.ModelType);
                w.WriteString("backend", r.Backend);
                w.WriteNumber("n_threads", r.Threads);
                w.WriteNumber("n_prompt", r.PromptTokens);
                w.WriteNumber("n_gen", r.GenTokens);
                w.WriteString("test", r.Test);
                w.WriteNumber("avg_ts", r.Mean);
                w.WriteNumber("stddev_ts", r.StdDev);
                w.WriteStartArray("samples_ts");
                foreach (double s in r.Samples) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }
}
