using Candle.Runtime.Weights.Gguf;

namespace Candle.Cli.Commands;

/// <summary>Recognizes weight file formats by their magic bytes.</summary>
internal static class WeightFiles
{
    /// <summary>True when the file starts with the GGUF magic.</summary>
    public static bool IsGguf(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return f.Read(magic) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary>Prints a GGUF file's metadata (arrays summarized) and tensors.</summary>
    public static int InspectGguf(CliContext ctx, string path)
    {
        using var gguf = GgufFile.Open(path);
        ctx.Out.WriteLine($"{CliText.Escape(path)}: GGUF v{gguf.Version}, {gguf.Tensors.Count} tensors, {gguf.Metadata.Count} metadata keys, alignment {gguf.Alignment}");
        foreach (string key in gguf.Metadata.Keys)
        {
            var v = gguf.Metadata[key];
            string text = v.Value switch
            {
                GgufArray a when a.Count > 8 => $"{a} first: {string.Join(", ", a.Take(8).Select(x => x.Value))}",
                GgufArray a => $"[{string.Join(", ", a.Select(x => x.Value))}]",
                string s when s.Length > 120 => s[..120] + "…",
                var o => Convert.ToString(o, System.Globalization.CultureInfo.InvariantCulture) ?? "",
            };
            ctx.Out.WriteLine($"  metadata {CliText.Escape(key)} = {CliText.Escape(text)}");
        }

        long total = 0;
        foreach (var t in gguf.Tensors)
        {
            total += t.ByteLength;
            ctx.Out.WriteLine($"  {CliText.Escape(t.Name)}\t{t.Type}\t[{string.Join(", ", t.Shape)}]\t{t.ByteLength} bytes");
        }

        ctx.Out.WriteLine($"total {total} bytes");
        return 0;
    }
}
