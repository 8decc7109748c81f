using System.Diagnostics;
using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Generation;

/// <summary>
/// Generates text with a causal language model: the prompt runs through the compiled prefill plan, then each new
/// token through the compiled decode plan, reading and filling a preallocated KV cache. Tokens are picked by a
/// <see cref="Sampler"/> (greedy, temperature, top-k, top-p, repetition penalty, seed), generation ends at a stop
/// token or the token budget, and each token is streamed to a callback as it is chosen. Disposing releases the
/// compiled plans.
/// </summary>
public sealed class TextGenerator : IDisposable
{
    /// <summary>Compiles <paramref name="model"/>'s prefill and decode steps with <paramref name="backend"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="backend">The backend that compiles and runs the model.</param>
    /// <param name="tokenizer">The tokenizer for text prompts and streamed text; null for ids only.</param>
    /// <param name="compileOptions">Compile options (threads, opt level); default when null.</param>
    public TextGenerator(ICausalLanguageModel model, IBackend backend, Tokenizer? tokenizer = null, CompileOptions? compileOptions = null)
    {
        Session = new DecoderSession(model, backend, compileOptions);
        Tokenizer = tokenizer;
    }

    /// <summary>The model.</summary>
    public ICausalLanguageModel Model => Session.Model;

    /// <summary>The tokenizer, or null.</summary>
    public Tokenizer? Tokenizer { get; }

    /// <summary>The compiled plans and the KV cache.</summary>
    public DecoderSession Session { get; }

    /// <summary>
    /// Loads a Hugging Face model directory (config, safetensors, tokenizer when present) and compiles it for
    /// generation on the named backend ("cpu" or "reference").
    /// </summary>
    /// <exception cref="NotSupportedException">The model is not a causal language model.</exception>
    public static TextGenerator Load(string modelDirectory, string backend = "cpu", ModelLoadOptions? loadOptions = null, CompileOptions? compileOptions = null) =>
        Load(modelDirectory, BackendRegistry.Get(backend), loadOptions, compileOptions);

    /// <summary>Loads a Hugging Face model directory and compiles it for generation with <paramref name="backend"/>.</summary>
    /// <exception cref="NotSupportedException">The model is not a causal language model.</exception>
    public static TextGenerator Load(string modelDirectory, IBackend backend, ModelLoadOptions? loadOptions = null, CompileOptions? compileOptions = null)
    {
        var model = ModelRegistry.Load(modelDirectory, loadOptions);
        if (model is not ICausalLanguageModel lm)
        {
            throw new NotSupportedException($"{modelDirectory}: model_type '{model.ModelType}' is not a causal language model; it cannot generate text");
        }

        return new TextGenerator(lm, backend, TokenizerLoader.TryLoad(modelDirectory), compileOptions);
    }

    /// <summary>Releases the compiled plans.</summary>
    public void Dispose() => Session.Dispose();

    /// <summary>Tokenizes <paramref name="prompt"/> and generates.</summary>
    /// <exception cref="InvalidOperationException">The generator has no tokenizer.</exception>
    public GenerationResult Generate(string prompt, GenerationOptions options, Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("this generator has no tokenizer; pass token ids instead of text");
        return Generate([.. tokenizer.EncodeToIds(prompt)], options, onToken, cancellationToken);
    }

    /// <summary>Generates a continuation of <paramref name="promptIds"/>.</summary>
    /// <param name="promptIds">The prompt token ids (at least one).</param>
    /// <param name="options">Sampling, stop tokens, seed and the token budget.</param>
    /// <param name="onToken">Called with each new token and the text it adds, as soon as it is chosen.</param>
    /// <param name="cancellationToken">Stops generation after the current token.</param>
    /// <exception cref="ArgumentException">The prompt is empty, has an id outside the vocabulary, or does not fit the model's positions.</exception>
    public GenerationResult Generate(IReadOnlyList<int> promptIds, GenerationOptions options, Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckIds(promptIds);
        var stops = new HashSet<int>(options.StopTokens);
        if (!options.IgnoreEos) stops.UnionWith(Model.EosTokenIds);

        var generated = new List<int>();
        if (options.MaxNewTokens == 0)
        {
            return Result(promptIds, generated, FinishReason.Length, TimeSpan.Zero, TimeSpan.Zero, 0);
        }

        int capacity = (int)Math.Min(Model.MaxPositions, (long)promptIds.Count + options.MaxNewTokens);
        Session.Reset(capacity);
        var history = new List<int>(promptIds);
        var sampler = new Sampler(options);
        var detok = new StreamingDetokenizer(Tokenizer);

        long start = Stopwatch.GetTimestamp();
        var logits = Session.Prefill(HostTensor.FromArray([.. promptIds.Select(i => (long)i)], 1, promptIds.Count));
        var prefillTime = Stopwatch.GetElapsedTime(start);
        var decodeTime = TimeSpan.Zero;
        int steps = 0;
        FinishReason reason;
        while (true)
        {
            int next = sampler.Next(logits.AsSpan<float>(), history);
            generated.Add(next);
            history.Add(next);
            onToken?.Invoke(new GeneratedToken(next, detok.Add(next), generated.Count - 1));
            if (stops.Contains(next))
            {
                reason = FinishReason.Stop;
                break;
            }

            if (generated.Count >= options.MaxNewTokens)
            {
                reason = FinishReason.Length;
                break;
            }

            if (Session.Position >= Model.MaxPositions)
            {
                reason = FinishReason.ContextFull;
                break;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                reason = FinishReason.Cancelled;
                break;
            }

            start = Stopwatch.GetTimestamp();
            logits = Session.Decode(HostTensor.FromArray([(long)next], 1, 1));
            decodeTime += Stopwatch.GetElapsedTime(start);
            steps++;
        }

        return Result(promptIds, generated, reason, prefillTime, decodeTime, steps);
    }

    /// <summary>
    /// Measures throughput as llama-bench does: after an untimed warm-up, the prefill test runs a prompt of
    /// <see cref="BenchmarkOptions.PromptTokens"/> random tokens from an empty cache, and the decode test runs
    /// <see cref="BenchmarkOptions.GenTokens"/> single-token decode steps from an empty cache; each is repeated and
    /// the median tokens per second reported.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A length exceeds the model's positions.</exception>
    public BenchmarkResult Benchmark(BenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (Math.Max(options.PromptTokens, options.GenTokens) > Model.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"the model supports at most {Model.MaxPositions} positions");
        }

        var rng = new Random(options.Seed);
        var prefill = new List<double>();
        var decode = new List<double>();
        if (options.PromptTokens > 0)
        {
            var ids = HostTensor.FromArray([.. Enumerable.Range(0, options.PromptTokens).Select(_ => (long)rng.Next(Model.VocabSize))], 1, options.PromptTokens);
            for (int r = options.Warmup ? -1 : 0; r < options.Repetitions; r++)
            {
                Session.Reset(options.PromptTokens);
                long start = Stopwatch.GetTimestamp();
                Session.Prefill(ids);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (r >= 0) prefill.Add(options.PromptTokens / seconds);
            }
        }

        if (options.GenTokens > 0)
        {
            for (int r = options.Warmup ? -1 : 0; r < options.Repetitions; r++)
            {
                Session.Reset(options.GenTokens);
                int n = r < 0 ? 1 : options.GenTokens;
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < n; i++)
                {
                    Session.Decode(HostTensor.FromArray([(long)rng.Next(Model.VocabSize)], 1, 1));
                }

                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (r >= 0) decode.Add(n / seconds);
            }
        }

        return new BenchmarkResult(Median(prefill), Median(decode), prefill, decode);
    }

    private static double Median(List<double> xs)
    {
        if (xs.Count == 0) return 0;
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    private void CheckIds(IReadOnlyList<int> ids)
    {
        if (ids.Count == 0) throw new ArgumentException("the prompt is empty; give at least one token (for example the BOS token)", nameof(ids));
        if (ids.Count > Model.MaxPositions)
        {
            throw new ArgumentException($"the prompt has {ids.Count} tokens but the model supports at most {Model.MaxPositions} positions", nameof(ids));
        }

        for (int i = 0; i < ids.Count; i++)
        {
            if ((uint)ids[i] >= (uint)Model.VocabSize)
            {
                throw new ArgumentException($"prompt token {i} is {ids[i]}, outside the vocabulary [0, {Model.VocabSize})", nameof(ids));
            }
        }
    }

    private GenerationResult Result(IReadOnlyList<int> prompt, List<int> generated, FinishReason reason, TimeSpan prefill, TimeSpan decode, int steps) => new()
    {
        PromptIds = [.. prompt],
        GeneratedIds = generated,
        Text = Tokenizer?.Decode(generated),
        FinishReason = reason,
        PrefillTime = prefill,
        DecodeTime = decode,
        DecodeSteps = steps,
    };
}
