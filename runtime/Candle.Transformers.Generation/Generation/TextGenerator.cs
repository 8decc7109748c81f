using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Candle.Runtime.Tensors;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Generation;

/// <summary>
/// Generates text with a causal language model: the prompt runs through the compiled prefill plan, then each new
/// token through the compiled decode plan, reading and filling a preallocated KV cache. Tokens are picked by a
/// <see cref="Sampler"/> (greedy, temperature, top-k, top-p, repetition penalty, seed), generation ends at a stop
/// token or the token budget, and each token is streamed to a callback as it is chosen; plain greedy decoding on a device
/// whose steps choose the token (<see cref="DecoderSession.ChoosesTokenOnDevice"/>) copies back only the token, not the
/// logits. Disposing releases the
/// compiled plans. A directory saved by <c>candle compile</c> loads with <see cref="CompiledLanguageModel.Load"/> (no
/// compiler needed); Candle.Transformers adds <c>TextGenerator.Load</c> for Hugging Face checkpoints, which compiles.
/// </summary>
public sealed class TextGenerator : IDisposable
{
    /// <summary>A generator over compiled prefill and decode steps; it owns <paramref name="session"/> and disposes it.</summary>
    /// <param name="session">The compiled steps and the KV cache.</param>
    /// <param name="tokenizer">The tokenizer for text prompts and streamed text; null for ids only.</param>
    public TextGenerator(DecoderSession session, Tokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        Session = session;
        Tokenizer = tokenizer;
    }

    /// <summary>The model's cache shape, vocabulary, positions and stop tokens.</summary>
    public DecoderShape Shape => Session.Shape;

    /// <summary>The tokenizer, or null.</summary>
    public Tokenizer? Tokenizer { get; }

    /// <summary>The compiled plans and the KV cache.</summary>
    public DecoderSession Session { get; }

    /// <summary>Releases the compiled plans.</summary>
    public void Dispose() => Session.Dispose();

    /// <summary>
    /// Whether a generation keeps the cache entries of the longest common prefix of its prompt and the tokens the
    /// previous generation left in the cache (its prompt and the tokens it fed back), and prefills only the rest: the
    /// next turn of a chat repeats the conversation so far. On by default; it applies where the session can prefill
    /// from any position (<see cref="DecoderSession.CanPrefillFromAnyPosition"/>), and at least the prompt's last token
    /// always runs, for its logits. A kept entry is the one a prefill of the whole prompt computes, up to the float
    /// rounding of a prefill in parts.
    /// </summary>
    public bool ReusePromptPrefix { get; set; } = true;

    // The tokens whose entries fill the session's cache, in order, as the last generation left them; trusted only while
    // the session's position still equals its length (the session is public and may have been used directly).
    private readonly List<int> _cached = [];

    // How many leading tokens of the prompt keep their cache entries.
    private int ReusablePrefix(IReadOnlyList<int> prompt)
    {
        if (!ReusePromptPrefix || !Session.CanPrefillFromAnyPosition || (Session.Cache?.Batch ?? Session.DeviceCache?.Batch) != 1 || Session.Position != _cached.Count) return 0;
        int n = 0, most = Math.Min(_cached.Count, prompt.Count - 1);
        while (n < most && _cached[n] == prompt[n]) n++;
        return n;
    }

    /// <summary>Tokenizes <paramref name="prompt"/> and generates.</summary>
    /// <exception cref="InvalidOperationException">The generator has no tokenizer.</exception>
    public GenerationResult Generate(string prompt, GenerationOptions options, Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("this generator has no tokenizer; pass token ids instead of text");
        return Generate([.. tokenizer.EncodeToIds(prompt)], options, onToken, cancellationToken);
    }

    /// <summary>Tokenizes <paramref name="prompt"/> and streams the generated tokens as they are chosen.</summary>
    /// <exception cref="InvalidOperationException">The generator has no tokenizer.</exception>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("this generator has no tokenizer; pass token ids instead of text");
        return GenerateAsync([.. tokenizer.EncodeToIds(prompt)], options, cancellationToken);
    }

    /// <summary>
    /// Streams the continuation of <paramref name="promptIds"/>: generation runs on a worker thread and each token
    /// is yielded as soon as it is chosen. Cancelling stops generation after the current token and the enumeration
    /// throws <see cref="OperationCanceledException"/>. One generation at a time per generator.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // A one-slot channel: the worker waits for the reader, so generation runs at most one token ahead of the
        // consumer and stops soon after the consumer cancels or stops reading.
        var channel = Channel.CreateBounded<GeneratedToken>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var worker = Task.Run(
            () =>
            {
                try
                {
                    Generate(promptIds, options, t => channel.Writer.WriteAsync(t, stop.Token).AsTask().GetAwaiter().GetResult(), stop.Token);
                    channel.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    channel.Writer.TryComplete(e);
                }
            },
            CancellationToken.None);
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var token))
                {
                    yield return token;
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await worker.ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
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
        if (!options.IgnoreEos) stops.UnionWith(Shape.EosTokenIds);

        var generated = new List<int>();
        if (options.MaxNewTokens == 0)
        {
            return Result(promptIds, generated, FinishReason.Length, TimeSpan.Zero, TimeSpan.Zero, 0);
        }

        int capacity = (int)Math.Min(Shape.MaxPositions, (long)promptIds.Count + options.MaxNewTokens);
        int reused = ReusablePrefix(promptIds);
        _cached.Clear();
        if (reused > 0) Session.Keep(reused, capacity);
        else Session.Reset(capacity);
        var history = new List<int>(promptIds);
        var sampler = new Sampler(options);
        var detok = new StreamingDetokenizer(Tokenizer);

        // Plain greedy decoding on a device that chooses the token copies back only the token, never the logits.
        bool tokenOnDevice = sampler.IsPlainGreedy && Session.ChoosesTokenOnDevice;
        HostTensor? logits = null;
        long chosen = 0;
        long start = Stopwatch.GetTimestamp();
        var promptRest = HostTensor.FromArray([.. promptIds.Skip(reused).Select(i => (long)i)], 1, promptIds.Count - reused);
        if (tokenOnDevice) chosen = Session.PrefillGreedy(promptRest)[0];
        else logits = Session.Prefill(promptRest);
        var prefillTime = Stopwatch.GetElapsedTime(start);
        _cached.AddRange(promptIds);
        var decodeTime = TimeSpan.Zero;
        int steps = 0;
        FinishReason reason;
        while (true)
        {
            int next = tokenOnDevice ? checked((int)chosen) : sampler.Next(logits!.AsSpan<float>(), history);
            generated.Add(next);
            history.Add(next);
            onToken?.Invoke(new GeneratedToken(next, detok.Add(next), generated.Count - 1));
            if (stops.Contains(next))
            {
                reason = FinishReason.Stop;
                break;
            }

            if (options.StopStrings.Count > 0 && Tokenizer is not null && StopStringIndex(Tokenizer.Decode(generated) ?? string.Empty, options.StopStrings) >= 0)
            {
                reason = FinishReason.Stop;
                break;
            }

            if (generated.Count >= options.MaxNewTokens)
            {
                reason = FinishReason.Length;
                break;
            }

            if (Session.Position >= Shape.MaxPositions)
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
            var ids = HostTensor.FromArray([(long)next], 1, 1);
            if (tokenOnDevice) chosen = Session.DecodeGreedy(ids)[0];
            else logits = Session.Decode(ids);
            decodeTime += Stopwatch.GetElapsedTime(start);
            _cached.Add(next);
            steps++;
        }

        return Result(promptIds, generated, reason, prefillTime, decodeTime, steps, options.StopStrings) with { ReusedPromptTokens = reused };
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
        if (Math.Max(options.PromptTokens, options.GenTokens) > Shape.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"the model supports at most {Shape.MaxPositions} positions");
        }

        _cached.Clear();
        var rng = new Random(options.Seed);
        int runs = options.Repetitions + (options.Warmup ? 1 : 0);
        var prefill = new List<double>();
        var decode = new List<double>();
        if (options.PromptTokens > 0)
        {
            var ids = HostTensor.FromArray([.. Enumerable.Range(0, options.PromptTokens).Select(_ => (long)rng.Next(Shape.VocabSize))], 1, options.PromptTokens);
            for (int r = options.Warmup ? -1 : 0; r < options.Repetitions; r++)
            {
                Session.Reset(options.PromptTokens);
                long start = Stopwatch.GetTimestamp();
                Session.Prefill(ids);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (r >= 0) prefill.Add(options.PromptTokens / seconds);
                options.Progress?.Report(new BenchmarkProgress(string.Create(CultureInfo.InvariantCulture, $"pp{options.PromptTokens}"), r + 1 + (options.Warmup ? 1 : 0), runs));
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
                    Session.Decode(HostTensor.FromArray([(long)rng.Next(Shape.VocabSize)], 1, 1));
                }

                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (r >= 0) decode.Add(n / seconds);
                options.Progress?.Report(new BenchmarkProgress(string.Create(CultureInfo.InvariantCulture, $"tg{options.GenTokens}"), r + 1 + (options.Warmup ? 1 : 0), runs));
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
        if (ids.Count > Shape.MaxPositions)
        {
            throw new ArgumentException($"the prompt has {ids.Count} tokens but the model supports at most {Shape.MaxPositions} positions", nameof(ids));
        }

        for (int i = 0; i < ids.Count; i++)
        {
            if ((uint)ids[i] >= (uint)Shape.VocabSize)
            {
                throw new ArgumentException($"prompt token {i} is {ids[i]}, outside the vocabulary [0, {Shape.VocabSize})", nameof(ids));
            }
        }
    }

    private static int StopStringIndex(string text, IReadOnlyList<string> stopStrings)
    {
        int best = -1;
        foreach (string stop in stopStrings)
        {
            int i = text.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }

        return best;
    }

    private static string CutAtStopString(string text, IReadOnlyList<string>? stopStrings)
    {
        if (stopStrings is null || stopStrings.Count == 0) return text;
        int i = StopStringIndex(text, stopStrings);
        return i >= 0 ? text[..i] : text;
    }

    private GenerationResult Result(IReadOnlyList<int> prompt, List<int> generated, FinishReason reason, TimeSpan prefill, TimeSpan decode, int steps, IReadOnlyList<string>? stopStrings = null) => new()
    {
        PromptIds = [.. prompt],
        GeneratedIds = generated,
        Text = Tokenizer is null ? null : CutAtStopString(Tokenizer.Decode(generated) ?? string.Empty, stopStrings),
        FinishReason = reason,
        PrefillTime = prefill,
        DecodeTime = decode,
        DecodeSteps = steps,
    };
}
