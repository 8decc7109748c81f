using System.Globalization;
using Candle.Compiler.Backends.Cpu;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>prompt-caching [LAYERS]</c>: the prefill time of a conversation's later turns with prompt caching
/// (<see cref="TextGenerator.ReusePromptPrefix"/>) and without, alternating: a 400-token opening, then five turns that
/// each add the reply (8 tokens) and 24 new tokens, on a llama of LAYERS layers (default 22) with a small hidden size.
/// </summary>
internal static class PromptCachingTiming
{
    public static void Run(string[] args)
    {
        int layers = args is [var l, ..] ? int.Parse(l, CultureInfo.InvariantCulture) : 22;
        string dir = Directory.CreateTempSubdirectory("candle-prompt-caching-").FullName;
        try
        {
            LlamaLayer.SmallLlamaCheckpoint.Write(dir, layers);
            var model = (ICausalLanguageModel)ModelRegistry.Load(dir);
            var options = new GenerationOptions { MaxNewTokens = 8, IgnoreEos = true };
            foreach (bool reuse in new[] { true, false, true, false })
            {
                using var generator = new TextGenerator(DecoderSession.Compile(model, CpuBackend.Instance)) { ReusePromptPrefix = reuse };
                int[] conversation = [.. Enumerable.Range(0, 400).Select(i => (i % 900) + 3)];
                double total = 0;
                int reused = 0;
                const int Turns = 6;
                for (int turn = 0; turn < Turns; turn++)
                {
                    var result = generator.Generate(conversation, options);
                    if (turn > 0)
                    {
                        total += result.PrefillTime.TotalMilliseconds;
                        reused += result.ReusedPromptTokens;
                    }

                    conversation = [.. result.Ids, .. Enumerable.Range(0, 24).Select(i => ((i * 7) % 900) + 3)];
                }

                Console.WriteLine($"prompt caching {(reuse ? "on " : "off")}: {total / (Turns - 1):F1} ms of prefill a turn after the first, {reused / (Turns - 1)} prompt tokens reused a turn ({layers} layers; conversation {conversation.Length} tokens at the end)");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
