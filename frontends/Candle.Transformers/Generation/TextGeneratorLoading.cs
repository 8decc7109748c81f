using Candle.Compiler.Backends;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Generation;

/// <summary>
/// Makes a <see cref="TextGenerator"/> from a Hugging Face checkpoint or a traced model by compiling it (the runtime-side
/// package loads only compiled model directories, <see cref="CompiledLanguageModel.Load"/>).
/// </summary>
public static class TextGeneratorLoading
{
    extension(TextGenerator)
    {
        /// <summary>
        /// Loads a Hugging Face model directory (config, safetensors, tokenizer when present) or a llama GGUF file and
        /// compiles it for generation on the named backend ("cpu" or "reference"); a directory written by
        /// <c>candle compile</c> is loaded without compiling (<see cref="CompiledLanguageModel.Load"/>).
        /// </summary>
        /// <param name="modelDirectory">The model directory, GGUF file or compiled model directory.</param>
        /// <param name="backend">The backend's name.</param>
        /// <param name="loadOptions">Load options (dtype, <see cref="ModelLoadOptions.Progress"/>); default when null.</param>
        /// <param name="compileOptions">Compile options (threads, opt level, <see cref="CompileOptions.Progress"/>); default when null.</param>
        /// <exception cref="NotSupportedException">The model is not a causal language model.</exception>
        public static TextGenerator Load(string modelDirectory, string backend = "cpu", ModelLoadOptions? loadOptions = null, CompileOptions? compileOptions = null) =>
            TextGenerator.Load(modelDirectory, BackendRegistry.Get(backend), loadOptions, compileOptions);

        /// <summary>Loads a Hugging Face model directory or GGUF file and compiles it for generation with <paramref name="backend"/>.</summary>
        /// <param name="modelDirectory">The model directory, GGUF file or compiled model directory.</param>
        /// <param name="backend">The backend.</param>
        /// <param name="loadOptions">Load options (dtype, <see cref="ModelLoadOptions.Progress"/>); default when null.</param>
        /// <param name="compileOptions">Compile options (threads, opt level, <see cref="CompileOptions.Progress"/>); default when null.</param>
        /// <exception cref="NotSupportedException">The model is not a causal language model.</exception>
        public static TextGenerator Load(string modelDirectory, IBackend backend, ModelLoadOptions? loadOptions = null, CompileOptions? compileOptions = null)
        {
            if (CompiledLanguageModel.IsCompiled(modelDirectory)) return CompiledLanguageModel.Load(modelDirectory, loadOptions?.Progress);
            var model = ModelRegistry.Load(modelDirectory, loadOptions);
            if (model is not ICausalLanguageModel lm)
            {
                throw new NotSupportedException($"{modelDirectory}: model_type '{model.ModelType}' is not a causal language model; it cannot generate text");
            }

            var generator = TextGenerator.Compile(lm, backend, TokenizerLoader.TryLoad(modelDirectory), compileOptions);

            // Reading the file, building the tokenizer and compiling two plans leave 100-200 MB of garbage, which the
            // GC keeps committed (its first-generation budget follows the size of the last-level cache, 100+ MB on
            // server parts) until allocations force a collection. Collecting once here gives it back before the
            // weights' pages become resident, so peak memory is the weights, the KV cache and the working set.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            return generator;
        }

        /// <summary>Compiles <paramref name="model"/>'s prefill and decode steps with <paramref name="backend"/>.</summary>
        /// <param name="model">The model.</param>
        /// <param name="backend">The backend that compiles and runs the model.</param>
        /// <param name="tokenizer">The tokenizer for text prompts and streamed text; null for ids only.</param>
        /// <param name="compileOptions">Compile options (threads, opt level, progress); default when null.</param>
        public static TextGenerator Compile(ICausalLanguageModel model, IBackend backend, Tokenizer? tokenizer = null, CompileOptions? compileOptions = null) =>
            new(DecoderSession.Compile(model, backend, compileOptions), tokenizer);
    }
}
