using Candle.Compiler.Backends;
using Candle.Runtime.Execution;
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
        /// <summary>
        /// Traces and compiles <paramref name="model"/>'s prefill and decode steps with <paramref name="backend"/>, and,
        /// on the CPU backend or a backend whose steps run on a device that is not the host (a GPU, where the session
        /// keeps the cache on the device), the prefill from any position
        /// (<see cref="ICausalLanguageModel.TracePrefillChunk"/>), with which the session prefills long prompts in chunks
        /// and continues from a filled cache.
        /// </summary>
        /// <param name="model">The model.</param>
        /// <param name="backend">The backend that compiles the steps.</param>
        /// <param name="options">Compile options (threads, opt level, progress); default when null.</param>
        public static DecoderSession Compile(ICausalLanguageModel model, IBackend backend, CompileOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(backend);
            var compiled = new List<IExecutable>();
            try
            {
                foreach (var graph in new Func<Compiler.Ir.Graph>[] { model.TracePrefill, model.TraceDecode })
                {
                    compiled.Add(backend.Compile(graph(), options ?? CompileOptions.Default));
                }

                if (backend.Name == "cpu" || compiled[1] is IDeviceExecutable { Device.IsHost: false })
                {
                    compiled.Add(backend.Compile(model.TracePrefillChunk(), options ?? CompileOptions.Default));
                }

                return compiled.Count == 3
                    ? new DecoderSession(model.Shape, compiled[0], compiled[1], compiled[2])
                    : new DecoderSession(model.Shape, compiled[0], compiled[1]);
            }
            catch
            {
                compiled.ForEach(c => c.Dispose());
                throw;
            }
        }
    }
}
