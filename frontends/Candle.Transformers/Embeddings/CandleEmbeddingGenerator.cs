using Microsoft.Extensions.AI;

namespace Candle.Transformers.Embeddings;

/// <summary>A Microsoft.Extensions.AI <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a <see cref="SentenceEmbedder"/>.</summary>
public sealed class CandleEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly bool _ownsEmbedder;

    /// <summary>Creates a generator.</summary>
    /// <param name="embedder">The sentence embedder (with a tokenizer).</param>
    /// <param name="modelId">The model name reported in embeddings and metadata.</param>
    /// <param name="ownsEmbedder">Whether disposing the generator disposes the embedder.</param>
    public CandleEmbeddingGenerator(SentenceEmbedder embedder, string modelId = "candle", bool ownsEmbedder = false)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        Embedder = embedder;
        ModelId = modelId;
        _ownsEmbedder = ownsEmbedder;
        Metadata = new EmbeddingGeneratorMetadata("candle", null, modelId, embedder.Dimension);
    }

    /// <summary>The embedder.</summary>
    public SentenceEmbedder Embedder { get; }

    /// <summary>The model name.</summary>
    public string ModelId { get; }

    /// <summary>Provider, model and dimension.</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <inheritdoc/>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        if (options?.Dimensions is int d && d != Embedder.Dimension) throw new ArgumentException($"this model's embeddings have {Embedder.Dimension} dimensions, not {d}", nameof(options));
        var vectors = await Task.Run(() => Embedder.Embed(texts), cancellationToken).ConfigureAwait(false);
        var created = DateTimeOffset.UtcNow;
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = ModelId, CreatedAt = created }));
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return Metadata;
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(Embedder) ? Embedder : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsEmbedder) Embedder.Dispose();
    }
}
