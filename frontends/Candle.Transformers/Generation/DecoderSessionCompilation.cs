using Candle.Compiler.Backends;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Generation;

/// <summary>Compiles a traced causal LM's prefill and decode steps into a <see cref="DecoderSession"/>.</summary>
public static class DecoderSessionCompilation
{
    extension(ICausalLanguageModel model)
    {
        /// <summary>The model's cache shape, vocabulary, positions and stop tokens, as generation needs them.</summary>
        public DecoderShape Shape =>
            new(model.ModelType, model.NumLayers, model.NumKvHeads, model.HeadDim, model.VocabSize, model.MaxPositions, model.KvCacheDType, [.. model.EosTokenIds]);
    }

    extension(DecoderSession)
    {
        /// <summary>Traces and compiles <paramref name="model"/>'s prefill and decode steps with <paramref name="backend"/>.</summary>
        /// <param name="model">The model.</param>
        /// <param name="backend">The backend that compiles both steps.</param>
        /// <param name="options">Compile options (threads, opt level, progress); default when null.</param>
        public static DecoderSession Compile(ICausalLanguageModel model, IBackend backend, CompileOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(backend);
            var prefill = backend.Compile(model.TracePrefill(), options ?? CompileOptions.Default);
            try
            {
                return new DecoderSession(model.Shape, prefill, backend.Compile(model.TraceDecode(), options ?? CompileOptions.Default));
            }
            catch
            {
                prefill.Dispose();
                throw;
            }
        }
    }
}
