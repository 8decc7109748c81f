using Candle.Compiler.Backends;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Embeddings;

/// <summary>
/// Sentence embeddings from a BERT-family encoder: texts are tokenized with [CLS] and [SEP], batched with padding
/// and attention masks, run through the compiled encoder, pooled (mean over kept tokens or [CLS]) and optionally
/// L2-normalized. The compiled plan has symbolic batch and sequence sizes, so one compilation serves every batch.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    private readonly IExecutable _plan;
    private readonly IReadOnlyList<string> _inputNames;
    private readonly int _hiddenIndex;

    /// <summary>Compiles <paramref name="model"/> with <paramref name="backend"/>.</summary>
    /// <param name="model">The encoder.</param>
    /// <param name="backend">The backend that compiles and runs it.</param>
    /// <param name="tokenizer">The WordPiece tokenizer for text; null to embed token ids only.</param>
    /// <param name="pooling">Mean (default) or [CLS] pooling.</param>
    /// <param name="normalize">Whether to scale each embedding to unit L2 norm.</param>
    /// <param name="options">Compile options (the device, as <c>cuda:1</c>, threads); <see cref="CompileOptions.Default"/> when null.</param>
    public SentenceEmbedder(BertModel model, IBackend backend, Tokenizer? tokenizer = null, Pooling pooling = Pooling.Mean, bool normalize = true, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backend);
        Model = model;
        Tokenizer = tokenizer;
        Pooling = pooling;
        Normalize = normalize;
        var graph = model.TraceForward();
        _inputNames = ["input_ids", "attention_mask", "token_type_ids"];
        _hiddenIndex = graph.OutputNames.IndexOf("last_hidden_state");
        _plan = backend.Compile(graph, options ?? CompileOptions.Default);
    }

    /// <summary>
    /// Loads a BERT-family model directory (config.json, weights, vocab.txt) and compiles it; of a task model
    /// (BertForSequenceClassification, BertForTokenClassification, BertForMaskedLM) its encoder.
    /// </summary>
    /// <exception cref="ArgumentException">The directory does not hold a BERT-family encoder.</exception>
    /// <param name="modelDirectory">The model directory.</param>
    /// <param name="backend">The backend's name in <see cref="BackendRegistry"/>.</param>
    /// <param name="pooling">Mean (default) or [CLS] pooling.</param>
    /// <param name="normalize">Whether to scale each embedding to unit L2 norm.</param>
    /// <param name="options">Compile options (the device, as <c>cuda:1</c>, threads); <see cref="CompileOptions.Default"/> when null.</param>
    public static SentenceEmbedder Load(string modelDirectory, string backend = "cpu", Pooling pooling = Pooling.Mean, bool normalize = true, CompileOptions? options = null)
    {
        var model = ModelRegistry.Load(modelDirectory) switch
        {
            BertModel m => m,
            BertForSequenceClassification s => s.Bert,
            BertForTokenClassification t => t.Bert,
            BertForMaskedLM l => l.Bert,
            _ => throw new ArgumentException($"{modelDirectory}: not a BERT-family encoder (SentenceEmbedder needs a BertModel)", nameof(modelDirectory)),
        };
        return new SentenceEmbedder(model, BackendRegistry.Get(backend), TokenizerLoader.TryLoad(modelDirectory), pooling, normalize, options);
    }

    /// <summary>The encoder.</summary>
    public BertModel Model { get; }

    /// <summary>The tokenizer, or null.</summary>
    public Tokenizer? Tokenizer { get; }

    /// <summary>The pooling.</summary>
    public Pooling Pooling { get; }

    /// <summary>Whether embeddings are L2-normalized.</summary>
    public bool Normalize { get; }

    /// <summary>The embedding size (the encoder's hidden size).</summary>
    public int Dimension => Model.Settings.HiddenSize;

    /// <summary>Texts longer than this many tokens (special tokens included) are cut, keeping the final [SEP].</summary>
    public int MaxTokens { get; init; } = 512;

    /// <summary>How many texts run through the encoder at once.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Releases the compiled plan.</summary>
    public void Dispose() => _plan.Dispose();

    /// <summary>The token ids of <paramref name="text"/> with [CLS] first and [SEP] last, as transformers' BERT tokenizer gives them.</summary>
    /// <exception cref="InvalidOperationException">The embedder has no tokenizer.</exception>
    public IReadOnlyList<int> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("this embedder has no tokenizer; pass token ids instead of text");
        IReadOnlyList<int> ids = tokenizer is BertTokenizer bert
            ? bert.EncodeToIds(text, addSpecialTokens: true)
            : tokenizer.EncodeToIds(text);
        int max = Math.Min(MaxTokens, (int)Model.Settings.MaxPositionEmbeddings);
        if (ids.Count > max) ids = [.. ids.Take(max - 1), ids[^1]];
        return ids;
    }

    /// <summary>Embeds texts.</summary>
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return EmbedIds([.. texts.Select(Tokenize)]);
    }

    /// <summary>Embeds one text.</summary>
    public float[] Embed(string text) => Embed([text])[0];

    /// <summary>Embeds token-id sequences (each already with its special tokens), padding each batch to its longest.</summary>
    /// <param name="sequences">The token ids.</param>
    /// <param name="tokenTypeIds">Segment ids per sequence (0 for the first sentence of a pair, 1 for the second); zeros when null.</param>
    /// <exception cref="ArgumentException">A sequence is empty, has an id outside the vocabulary, or its token types do not match it.</exception>
    public float[][] EmbedIds(IReadOnlyList<IReadOnlyList<int>> sequences, IReadOnlyList<IReadOnlyList<int>>? tokenTypeIds = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (tokenTypeIds is not null && tokenTypeIds.Count != sequences.Count) throw new ArgumentException($"{tokenTypeIds.Count} token-type sequences for {sequences.Count} sequences", nameof(tokenTypeIds));
        var result = new float[sequences.Count][];
        for (int start = 0; start < sequences.Count; start += BatchSize)
        {
            var batch = sequences.Skip(start).Take(BatchSize).ToList();
            var types = tokenTypeIds?.Skip(start).Take(BatchSize).ToList();
            var pooled = EmbedBatch(batch, types, start);
            for (int i = 0; i < pooled.Length; i++) result[start + i] = pooled[i];
        }

        return result;
    }

    private float[][] EmbedBatch(List<IReadOnlyList<int>> batch, List<IReadOnlyList<int>>? types, int offset)
    {
        int vocab = Model.Settings.VocabSize;
        int seq = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b];
            if (s.Count == 0) throw new ArgumentException($"sequence {offset + b} is empty", nameof(batch));
            if (s.Count > Model.Settings.MaxPositionEmbeddings) throw new ArgumentException($"sequence {offset + b} has {s.Count} tokens, more than the model's {Model.Settings.MaxPositionEmbeddings} positions", nameof(batch));
            foreach (int id in s)
            {
                if ((uint)id >= (uint)vocab) throw new ArgumentException($"sequence {offset + b} has token id {id}, outside the vocabulary [0, {vocab})", nameof(batch));
            }

            if (types is not null)
            {
                if (types[b].Count != s.Count) throw new ArgumentException($"sequence {offset + b} has {s.Count} tokens but {types[b].Count} token types", nameof(types));
                if (types[b].Any(t => (uint)t >= (uint)Model.Settings.TypeVocabSize)) throw new ArgumentException($"sequence {offset + b} has a token type outside [0, {Model.Settings.TypeVocabSize})", nameof(types));
            }

            seq = Math.Max(seq, s.Count);
        }

        var ids = new long[batch.Count * seq];
        var mask = new long[batch.Count * seq];
        var typeIds = new long[batch.Count * seq];
        Array.Fill(ids, Model.Settings.PadTokenId);
        for (int b = 0; b < batch.Count; b++)
        {
            for (int t = 0; t < batch[b].Count; t++)
            {
                ids[(b * seq) + t] = batch[b][t];
                mask[(b * seq) + t] = 1;
                if (types is not null) typeIds[(b * seq) + t] = types[b][t];
            }
        }

        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromArray(ids, batch.Count, seq),
            ["attention_mask"] = HostTensor.FromArray(mask, batch.Count, seq),
            ["token_type_ids"] = HostTensor.FromArray(typeIds, batch.Count, seq),
        };
        var hidden = _plan.Run([.. _inputNames.Select(n => inputs[n])])[_hiddenIndex].ToFloat32();
        return Pool(hidden, mask, batch.Count, seq, Dimension, Pooling, Normalize);
    }

    /// <summary>Pools <c>[batch, seq, dim]</c> hidden states with a <c>[batch, seq]</c> mask.</summary>
    internal static float[][] Pool(float[] hidden, long[] mask, int batch, int seq, int dim, Pooling pooling, bool normalize)
    {
        var result = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var e = new double[dim];
            if (pooling == Pooling.Cls)
            {
                for (int d = 0; d < dim; d++) e[d] = hidden[(b * seq * dim) + d];
            }
            else
            {
                long kept = 0;
                for (int t = 0; t < seq; t++)
                {
                    if (mask[(b * seq) + t] == 0) continue;
                    kept++;
                    for (int d = 0; d < dim; d++) e[d] += hidden[(((b * seq) + t) * dim) + d];
                }

                // sentence-transformers clamps the token count at 1e-9.
                double count = Math.Max(kept, 1e-9);
                for (int d = 0; d < dim; d++) e[d] /= count;
            }

            if (normalize)
            {
                double norm = Math.Sqrt(e.Sum(x => x * x));
                double scale = 1 / Math.Max(norm, 1e-12);
                for (int d = 0; d < dim; d++) e[d] *= scale;
            }

            result[b] = [.. e.Select(x => (float)x)];
        }

        return result;
    }
}
