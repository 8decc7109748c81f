using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;
using Names = Candle.Transformers.Models.Whisper.WhisperGraphNames;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// Whisper with its language-model head (transformers' WhisperForConditionalGeneration): <c>proj_out</c> is tied to
/// the decoder's token embeddings unless the config unties it. <see cref="TraceForward"/> gives the whole forward
/// pass; <see cref="TraceEncoder"/> and <see cref="TraceDecoderStep"/> give the two graphs of cached decoding.
/// </summary>
public sealed class WhisperForConditionalGeneration : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    public WhisperForConditionalGeneration(WhisperConfig config, bool tieWordEmbeddings = true, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Settings = config;
        DType = dtype;
        Config = hfConfig ?? HfConfig.Parse("{\"model_type\":\"whisper\"}");
        Model = RegisterModule("model", new WhisperModel(config, dtype));
        if (!tieWordEmbeddings) ProjOut = RegisterModule("proj_out", new Linear(config.DModel, config.VocabSize, false, dtype));
    }

    /// <summary>The typed settings.</summary>
    public WhisperConfig Settings { get; }

    /// <summary>The dtype the model computes in.</summary>
    public DType DType { get; }

    /// <inheritdoc/>
    public HfConfig Config { get; }

    /// <inheritdoc/>
    public string ModelType => "whisper";

    /// <summary>model (encoder and decoder).</summary>
    public WhisperModel Model { get; }

    /// <summary>proj_out when untied; null when tied to <c>model.decoder.embed_tokens.weight</c>.</summary>
    public Linear? ProjOut { get; }

    /// <summary>
    /// Builds the model from a WhisperForConditionalGeneration checkpoint (<c>model.*</c>, optional <c>proj_out.weight</c>)
    /// or a WhisperModel checkpoint (<c>encoder.*</c>, <c>decoder.*</c>).
    /// </summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static WhisperForConditionalGeneration Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        bool tied = config.GetBool(true, "tie_word_embeddings") || !weights.Contains("proj_out.weight");
        WhisperForConditionalGeneration model;
        var settings = WhisperConfig.FromHf(config);
        bool Has(string n) => weights.Contains("model." + n) || weights.Contains(n);
        Common.CheckpointLayers.Check(config.Path, "encoder_layers", settings.EncoderLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"encoder.layers.{i}.self_attn_layer_norm.weight"), Has, options.AllowUnusedTensors);
        Common.CheckpointLayers.Check(config.Path, "decoder_layers", settings.DecoderLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"decoder.layers.{i}.self_attn_layer_norm.weight"), Has, options.AllowUnusedTensors);
        using (Init.SkipInit()) model = new WhisperForConditionalGeneration(settings, tied, options.DType, config);
        model.LoadStateDict(
            n => weights.Contains(n) ? weights.Get(n)
                : n.StartsWith("model.", StringComparison.Ordinal) && weights.Contains(n["model.".Length..]) ? weights.Get(n["model.".Length..]) : null,
            strict: true,
            castFloats: true);
        return model;
    }

    /// <summary>Logits [batch, seq, vocab] of decoder states [batch, seq, d_model].</summary>
    public Tensor LmHead(Tensor hidden) => ProjOut is null ? F.Linear(hidden, Model.Decoder.EmbedTokens.Weight) : ProjOut.Forward(hidden);

    /// <summary>The whole forward pass (no cache).</summary>
    /// <returns>logits [batch, dec_seq, vocab] and the encoder output.</returns>
    public (Tensor Logits, Tensor EncoderLastHiddenState) Forward(Tensor inputFeatures, Tensor decoderInputIds)
    {
        var enc = Model.Encoder.Forward(inputFeatures);
        var (ck, cv) = Model.Decoder.CrossKeyValues(enc);
        var h = Model.Decoder.Forward(decoderInputIds, ck, cv);
        return (LmHead(h), enc);
    }

    /// <summary>input_features, decoder_input_ids → logits, encoder_last_hidden_state.</summary>
    public Graph TraceForward() =>
        Tracer.Trace(this, xs =>
        {
            var (logits, enc) = Forward(xs[0], xs[1]);
            return [logits, enc];
        }, [FeaturesInput(), new TraceInput(Names.DecoderInputIds, DType.I64, Names.BatchSymbol, Names.SeqSymbol)],
        [Names.Logits, Names.EncoderLastHiddenState]);

    /// <summary>
    /// input_features → encoder_last_hidden_state and every decoder layer's cross-attention keys and values
    /// (<c>cross_keys.{i}</c>, <c>cross_values.{i}</c>), computed once per audio segment.
    /// </summary>
    public Graph TraceEncoder()
    {
        int layers = Settings.DecoderLayers;
        var names = new List<string> { Names.EncoderLastHiddenState };
        for (int i = 0; i < layers; i++)
        {
            names.Add(Names.CrossKeys(i));
            names.Add(Names.CrossValues(i));
        }

        return Tracer.Trace(this, xs =>
        {
            var enc = Model.Encoder.Forward(xs[0]);
            var (ck, cv) = Model.Decoder.CrossKeyValues(enc);
            var outs = new List<Tensor> { enc };
            for (int i = 0; i < layers; i++)
            {
                outs.Add(ck[i]);
                outs.Add(cv[i]);
            }

            return [.. outs];
        }, [FeaturesInput()], names);
    }

    /// <summary>
    /// One cached decoder step. Inputs: <c>decoder_input_ids</c> [batch, seq], then per layer the donated cache rows
    /// <c>cache_keys.{i}</c>, <c>cache_values.{i}</c> [kv, batch, heads, head_dim] (the cached positions and room for
    /// the step's seq new ones) and <c>cross_keys.{i}</c>, <c>cross_values.{i}</c> [batch, heads, enc_seq, head_dim].
    /// Outputs: <c>logits</c> [batch, seq, vocab], then per layer <c>present_keys.{i}</c>, <c>present_values.{i}</c>:
    /// the rows with the new entries written into the last seq (in place by compiled plans, so no step copies the past).
    /// </summary>
    public Graph TraceDecoderStep()
    {
        int layers = Settings.DecoderLayers, heads = Settings.DecoderAttentionHeads, hd = Settings.DModel / heads, enc = Settings.MaxSourcePositions;
        const string B = Names.BatchSymbol, KV = DecoderGraphNames.KvSymbol;
        var inputs = new List<TraceInput> { new(Names.DecoderInputIds, DType.I64, B, Names.SeqSymbol) };
        for (int i = 0; i < layers; i++)
        {
            inputs.Add(new(DecoderGraphNames.CacheKeys(i), DType, KV, B, heads, hd) { Donated = true });
            inputs.Add(new(DecoderGraphNames.CacheValues(i), DType, KV, B, heads, hd) { Donated = true });
            inputs.Add(new(Names.CrossKeys(i), DType, B, heads, enc, hd));
            inputs.Add(new(Names.CrossValues(i), DType, B, heads, enc, hd));
        }

        var names = new List<string> { Names.Logits };
        for (int i = 0; i < layers; i++)
        {
            names.Add(DecoderGraphNames.PresentKeys(i));
            names.Add(DecoderGraphNames.PresentValues(i));
        }

        return Tracer.Trace(this, xs =>
        {
            Tensor At(int layer, int k) => xs[1 + (4 * layer) + k];
            var cache = CacheStep.Decode(
                [.. Enumerable.Range(0, layers).Select(i => At(i, 0))],
                [.. Enumerable.Range(0, layers).Select(i => At(i, 1))],
                xs[0].Shape[1]);
            var crossK = Enumerable.Range(0, layers).Select(i => At(i, 2)).ToArray();
            var crossV = Enumerable.Range(0, layers).Select(i => At(i, 3)).ToArray();
            var h = Model.Decoder.Forward(xs[0], crossK, crossV, cache);
            return [LmHead(h), .. cache.Outputs().Select(o => o.Tensor)];
        }, inputs, names);
    }

    /// <summary>decoder_input_ids defaults to one decoder_start_token_id per batch row.</summary>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given)
    {
        ArgumentNullException.ThrowIfNull(given);
        if (name != Names.DecoderInputIds || !given.TryGetValue(Names.InputFeatures, out var f)) return null;
        var t = HostTensor.Zeros(DType.I64, f.Shape[0], 1);
        t.AsSpan<long>().Fill(Settings.DecoderStartTokenId);
        return t;
    }

    private TraceInput FeaturesInput() => new(Names.InputFeatures, DType, Names.BatchSymbol, Settings.NumMelBins, Settings.ExpectedFrames);
}
