using System.CommandLine;
using System.Globalization;
using Candle.Transformers.Embeddings;

namespace Candle.Cli.Commands;

/// <summary><c>candle embed &lt;model&gt; --text ...</c>: sentence embeddings of texts (or token ids) with a BERT-family encoder, one line of numbers per input.</summary>
internal static class EmbedCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face BERT-family model directory (config.json, weights, vocab.txt)");
        var text = new Option<string[]>("--text", "-t") { Description = "a text to embed (repeat for several)", AllowMultipleArgumentsPerToken = false };
        var ids = new Option<string[]>("--ids") { Description = "token ids to embed, comma separated, special tokens included (repeat for several)" };
        var pooling = new Option<string>("--pooling") { Description = "mean or cls", DefaultValueFactory = _ => "mean" };
        var noNormalize = new Option<bool>("--no-normalize") { Description = "keep the pooled vectors unnormalized" };
        var device = DeviceOption.Create();
        var cmd = new Command("embed", "Sentence embeddings with a BERT-family encoder") { model.Argument, model.Option, text, ids, pooling, noNormalize, device };
        cmd.SetAction(pr => ctx.Guard(() => Run(
            ctx,
            model.Resolve(pr),
            pr.GetValue(text) ?? [],
            pr.GetValue(ids) ?? [],
            pr.GetValue(pooling)!,
            !pr.GetValue(noNormalize),
            pr.GetValue(device)!)));
        return cmd;
    }

    private static int Run(CliContext ctx, string model, string[] texts, string[] ids, string pooling, bool normalize, string device)
    {
        if (texts.Length == 0 && ids.Length == 0) throw new ArgumentException("give --text (or --ids) at least once");
        var pool = pooling.ToLowerInvariant() switch
        {
            "mean" => Pooling.Mean,
            "cls" => Pooling.Cls,
            _ => throw new ArgumentException($"--pooling: '{pooling}' is not mean or cls"),
        };
        if (!Directory.Exists(model)) throw new DirectoryNotFoundException($"{model}: no such model directory");
        DeviceOption.Resolve(device);
        using var embedder = SentenceEmbedder.Load(model, device.Split(':')[0], pool, normalize, DeviceOption.Options(device));
        var vectors = new List<float[]>();
        if (texts.Length > 0) vectors.AddRange(embedder.Embed(texts));
        if (ids.Length > 0)
        {
            var seqs = ids.Select(s => (IReadOnlyList<int>)[.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x =>
                int.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"--ids: '{x}' is not a token id"))]).ToList();
            vectors.AddRange(embedder.EmbedIds(seqs));
        }

        foreach (var v in vectors)
        {
            ctx.Out.WriteLine(string.Join(' ', v.Select(x => x.ToString("R", CultureInfo.InvariantCulture))));
        }

        return 0;
    }
}
