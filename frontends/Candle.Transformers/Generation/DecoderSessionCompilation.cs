using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
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
        /// and continues from a filled cache. Steps that run on such a device also return
        /// <see cref="DecoderGraphNames.NextToken"/> (<see cref="WithNextToken"/>), so that greedy decoding copies back
        /// only the chosen token; steps on the host do not (they sample from the logits they already return).
        /// </summary>
        /// <param name="model">The model.</param>
        /// <param name="backend">The backend that compiles the steps.</param>
        /// <param name="options">Compile options (threads, opt level, progress); default when null.</param>
        public static DecoderSession Compile(ICausalLanguageModel model, IBackend backend, CompileOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(backend);
            options ??= CompileOptions.Default;
            IExecutable? prefill = null, decode = null, chunk = null;
            try
            {
                // The decode step first: whether it runs on a device decides whether the steps choose the greedy token.
                // Host backends are known not to; another backend's step is compiled with the token and, should it run
                // on the host after all, compiled again without it.
                bool token = backend.Name is not ("cpu" or "reference") && backend.Capabilities.Supports(Op.ArgMax);
                decode = backend.Compile(token ? WithNextToken(model.TraceDecode()) : model.TraceDecode(), options);
                bool onDevice = decode is IDeviceExecutable { Device.IsHost: false };
                if (token && !onDevice)
                {
                    decode.Dispose();
                    decode = null;
                    decode = backend.Compile(model.TraceDecode(), options);
                }

                token &= onDevice;
                prefill = backend.Compile(token ? WithNextToken(model.TracePrefill()) : model.TracePrefill(), options);
                if (backend.Name == "cpu" || onDevice)
                {
                    chunk = backend.Compile(token ? WithNextToken(model.TracePrefillChunk()) : model.TracePrefillChunk(), options);
                }

                return chunk is not null
                    ? new DecoderSession(model.Shape, prefill, decode, chunk)
                    : new DecoderSession(model.Shape, prefill, decode);
            }
            catch
            {
                prefill?.Dispose();
                decode?.Dispose();
                chunk?.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// <paramref name="step"/> with one more output, <see cref="DecoderGraphNames.NextToken"/>: the argmax over the
    /// vocabulary of its logits' last position, i64[batch] (<see cref="Op.ArgMax"/>: the first maximal index, a NaN
    /// counting as the maximum, as <see cref="Sampler.ArgMax"/> picks the greedy token). Any step that returns
    /// <see cref="DecoderGraphNames.Logits"/> [batch, seq, vocab] takes it; a step that already has it is returned as it is.
    /// </summary>
    /// <exception cref="InvalidOperationException">The step has no logits output of rank 3.</exception>
    public static Graph WithNextToken(Graph step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (step.OutputNames.Contains(DecoderGraphNames.NextToken)) return step;
        int i = step.OutputNames.IndexOf(DecoderGraphNames.Logits);
        if (i < 0 || step.Outputs[i].Shape.Rank != 3)
        {
            throw new InvalidOperationException($"the step has no output '{DecoderGraphNames.Logits}' [batch, seq, vocab] to choose the next token from (outputs: {string.Join(", ", step.OutputNames)})");
        }

        var last = IrBuilder.Select(step.Outputs[i], 1, -1);
        var next = IrBuilder.ArgReduce(Op.ArgMax, last, -1);
        return new Graph(step.Inputs, [.. step.Outputs, next], [.. step.OutputNames, DecoderGraphNames.NextToken]);
    }
}
