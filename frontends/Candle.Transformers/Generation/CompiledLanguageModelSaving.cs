using Candle.Compiler.Backends;
using Candle.Runtime.Plans;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Generation;

/// <summary>Writes compiled model directories (<see cref="CompiledLanguageModel"/>): the compiler side of <c>candle compile</c> for causal LMs.</summary>
public static class CompiledLanguageModelSaving
{
    extension(CompiledLanguageModel)
    {
        /// <summary>
        /// Loads the Hugging Face causal LM in <paramref name="modelDirectory"/>, compiles its prefill and decode steps
        /// for the CPU (<see cref="CompileOptions.Backend"/> when it is a CPU backend, e.g. one without generated code) and
        /// writes them, with the files a deployment needs, to <paramref name="outputDirectory"/>.
        /// </summary>
        /// <param name="modelDirectory">The Hugging Face model directory.</param>
        /// <param name="outputDirectory">The compiled model directory to write (created when missing).</param>
        /// <param name="compileOptions">Compile options (opt level, backend, progress); default when null.</param>
        /// <param name="loadOptions">Load options (dtype, progress); default when null.</param>
        /// <exception cref="NotSupportedException">The model is not a causal LM, or is not a Hugging Face directory.</exception>
        public static void Save(string modelDirectory, string outputDirectory, CompileOptions? compileOptions = null, ModelLoadOptions? loadOptions = null)
        {
            ArgumentNullException.ThrowIfNull(modelDirectory);
            ArgumentNullException.ThrowIfNull(outputDirectory);
            if (!Directory.Exists(modelDirectory)) throw new NotSupportedException($"{modelDirectory}: a compiled model is made from a Hugging Face model directory");
            var model = ModelRegistry.Load(modelDirectory, loadOptions);
            if (model is not ICausalLanguageModel lm)
            {
                throw new NotSupportedException($"{modelDirectory}: model_type '{model.ModelType}' is not a causal language model; it cannot be compiled for generation");
            }

            // Only the two steps a compiled directory holds are compiled (a session compiled for generation here would
            // compile a third, the prefill from any position, which the directory does not keep).
            var backend = compileOptions?.Backend ?? BackendRegistry.Get("cpu");
            using var prefillStep = backend.Compile(lm.TracePrefill(), compileOptions ?? CompileOptions.Default);
            using var decodeStep = backend.Compile(lm.TraceDecode(), compileOptions ?? CompileOptions.Default);
            if (prefillStep is not Plan prefill || decodeStep is not Plan decode)
            {
                throw new NotSupportedException($"the {backend.Name} backend did not produce savable plans");
            }

            Directory.CreateDirectory(outputDirectory);
            prefill.Save(Path.Combine(outputDirectory, CompiledLanguageModel.PrefillFile));
            decode.Save(Path.Combine(outputDirectory, CompiledLanguageModel.DecodeFile));
            foreach (string f in CompiledLanguageModel.CopiedFiles)
            {
                string from = Path.Combine(modelDirectory, f);
                if (File.Exists(from)) File.Copy(from, Path.Combine(outputDirectory, f), overwrite: true);
            }

            CompiledLanguageModel.WriteManifest(outputDirectory, lm.Shape);
        }
    }
}
