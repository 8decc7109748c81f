using Candle.Compiler.Autodiff;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Models.Vit;
using Candle.Transformers.Models.Whisper;

namespace Candle.Transformers.Training;

/// <summary>
/// The loss transformers computes when a model is given <c>labels</c>, for every model family the registry loads that
/// has one: causal LMs (shifted cross-entropy over <c>input_ids</c>/<c>labels</c> [batch, seq]), image classifiers
/// (ViTForImageClassification: cross-entropy of the logits against <c>labels</c> [batch] given <c>pixel_values</c>)
/// and Whisper (cross-entropy of the decoder's logits against <c>labels</c> [batch, seq] given
/// <c>input_features</c>; <c>decoder_input_ids</c> default to the labels shifted right behind
/// decoder_start_token_id, −100 replaced by pad_token_id) and BERT's task heads given <c>input_ids</c>,
/// <c>attention_mask</c> and <c>token_type_ids</c> (the last two optional): BertForSequenceClassification by its
/// problem type (<see cref="BertProblemType"/>: MSE of the squeezed logits against float labels [batch], cross-entropy
/// against class ids [batch], or binary cross-entropy with logits against float targets [batch, num_labels]),
/// BertForTokenClassification and BertForMaskedLM (cross-entropy of every token's logits against labels [batch, seq]).
/// Labels equal to −100 are ignored by every cross-entropy.
/// </summary>
public static class TrainingObjective
{
    private static readonly (string Name, string Description)[] BertText =
    [
        ("input_ids", "integer [batch, seq]"),
        ("attention_mask", "integer [batch, seq] (default: ones)"),
        ("token_type_ids", "integer [batch, seq] (default: zeros)"),
    ];

    /// <summary>The inputs of <paramref name="model"/>'s loss graph, in order, and what each holds.</summary>
    /// <exception cref="NotSupportedException">transformers defines no loss for the model (a bare encoder such as BertModel or ViTModel).</exception>
    public static IReadOnlyList<(string Name, string Description)> Inputs(IPretrainedModel model) => model switch
    {
        ICausalLanguageModel => [("input_ids", "integer [batch, seq]"), (LanguageModelLoss.Labels, "integer [batch, seq] (default: input_ids; -100 ignored)")],
        VitForImageClassification { Classifier: not null } => [("pixel_values", "float [batch, channels, image, image]"), (LanguageModelLoss.Labels, "integer [batch] class ids (-100 ignored)")],
        WhisperForConditionalGeneration => [("input_features", "float [batch, mel bins, frames]"), ("decoder_input_ids", "integer [batch, seq] (default: labels shifted right)"), (LanguageModelLoss.Labels, "integer [batch, seq] (-100 ignored)")],
        BertForSequenceClassification s => [.. BertText, (LanguageModelLoss.Labels, SequenceLabels(s))],
        BertForTokenClassification or BertForMaskedLM => [.. BertText, (LanguageModelLoss.Labels, "integer [batch, seq] (-100 ignored)")],
        _ => throw Unsupported(model),
    };

    /// <summary>The loss graph: the data inputs of <see cref="Inputs"/> → output <c>loss</c> (an f32 scalar).</summary>
    /// <exception cref="NotSupportedException">transformers defines no loss for the model.</exception>
    public static Graph Trace(IPretrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        switch (model)
        {
            case ICausalLanguageModel:
                return LanguageModelLoss.Trace(model);
            case VitForImageClassification { Classifier: not null }:
            {
                var forward = model.TraceForward();
                var pixels = forward.Inputs.Single();
                var logits = forward.Outputs[0];
                var labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.I64, new Shape(logits.Shape[0]));
                var loss = Losses.CrossEntropy(IrBuilder.Cast(logits, DType.F32), labels);
                return new Graph([pixels, labels], [loss], [LanguageModelLoss.Loss]);
            }

            case WhisperForConditionalGeneration:
            {
                var forward = model.TraceForward();
                var ids = forward.Inputs[1];
                var logits = forward.Outputs[0];
                var labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.I64, ids.Shape);
                var rows = logits.Shape[0] * logits.Shape[1];
                var loss = Losses.CrossEntropy(IrBuilder.Reshape(IrBuilder.Cast(logits, DType.F32), new Shape(rows, logits.Shape[2])), IrBuilder.Reshape(labels, new Shape(rows)));
                return new Graph([forward.Inputs[0], ids, labels], [loss], [LanguageModelLoss.Loss]);
            }

            case BertForSequenceClassification s:
                return SequenceClassificationLoss(s);

            case BertForTokenClassification or BertForMaskedLM:
            {
                var forward = model.TraceForward();
                var logits = forward.Outputs[0];
                var labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.I64, forward.Inputs[0].Shape);
                var rows = logits.Shape[0] * logits.Shape[1];
                var loss = Losses.CrossEntropy(IrBuilder.Reshape(LossValues(logits), new Shape(rows, logits.Shape[2])), IrBuilder.Reshape(labels, new Shape(rows)));
                return new Graph([.. forward.Inputs, labels], [loss], [LanguageModelLoss.Loss]);
            }

            default:
                throw Unsupported(model);
        }
    }

    /// <summary>
    /// The loss of a sequence classifier: by its problem type, or, while that is unset, the one transformers picks
    /// for integer labels (regression for one label).
    /// </summary>
    private static Graph SequenceClassificationLoss(BertForSequenceClassification model)
    {
        var forward = model.TraceForward();
        var logits = forward.Outputs[0];
        var x = LossValues(logits);
        var batch = logits.Shape[0];
        Node labels, loss;
        switch (model.ProblemType ?? BertProblemType.Infer(model.NumLabels, DType.I64))
        {
            case BertProblemType.Regression when model.NumLabels == 1:
                // transformers: mse(logits.squeeze(), labels.squeeze()).
                labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.F32, new Shape(batch));
                loss = Losses.Mse(IrBuilder.Reshape(x, new Shape(batch)), IrBuilder.Cast(labels, x.DType));
                break;
            case BertProblemType.Regression:
                labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.F32, logits.Shape);
                loss = Losses.Mse(x, IrBuilder.Cast(labels, x.DType));
                break;
            case BertProblemType.SingleLabelClassification:
                labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.I64, new Shape(batch));
                loss = Losses.CrossEntropy(x, labels);
                break;
            default:
                labels = IrBuilder.Input(LanguageModelLoss.Labels, DType.F32, logits.Shape);
                loss = Losses.BinaryCrossEntropyWithLogits(x, labels);
                break;
        }

        return new Graph([.. forward.Inputs, labels], [loss], [LanguageModelLoss.Loss]);
    }

    /// <summary>Logits as the loss computes with them: float32, or float64 for a model computing in float64.</summary>
    private static Node LossValues(Node logits) => IrBuilder.Cast(logits, logits.DType == DType.F64 ? DType.F64 : DType.F32);

    private static string SequenceLabels(BertForSequenceClassification model) => (model.ProblemType ?? (model.NumLabels == 1 ? BertProblemType.Regression : null)) switch
    {
        BertProblemType.Regression => model.NumLabels == 1 ? "float [batch] targets (regression)" : "float [batch, num_labels] targets (regression)",
        BertProblemType.SingleLabelClassification => "integer [batch] class ids (-100 ignored)",
        BertProblemType.MultiLabelClassification => "float [batch, num_labels] targets (multi-label)",
        _ => "integer [batch] class ids (-100 ignored), or float [batch, num_labels] multi-label targets",
    };

    /// <summary>Inputs as <see cref="Trace"/> → <c>loss</c> and <c>grad.{parameter}</c> for every parameter (checkpoint names).</summary>
    public static Graph TraceGradients(IPretrainedModel model)
    {
        var loss = Trace(model);
        var parameters = LanguageModelLoss.Parameters(model, loss);
        return ReverseMode.Differentiate(loss, LanguageModelLoss.Loss, [.. parameters.Select(p => p.Node)], [.. parameters.Select(p => p.Name)]);
    }

    /// <summary>
    /// Checks a batch against <see cref="Inputs"/> and completes it as transformers would: integer tensors become i64,
    /// float tensors f32, causal LM labels default to input_ids, Whisper's decoder_input_ids to the shifted labels, a
    /// BERT head's attention_mask to ones and token_type_ids to zeros; a BertForSequenceClassification whose problem
    /// type is unset gets the one the labels imply (as transformers records it in config.problem_type), so call this
    /// before <see cref="Trace"/>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="batch">The tensors by name.</param>
    /// <param name="source">The file the batch came from, for messages.</param>
    /// <exception cref="ArgumentException">A tensor is missing, of the wrong kind, or its batch/sequence dimensions disagree, or an integer label lies outside a BERT head's classes; the message names the file and the key.</exception>
    public static Dictionary<string, HostTensor> Prepare(IPretrainedModel model, IReadOnlyDictionary<string, HostTensor> batch, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        var have = new Dictionary<string, HostTensor>(batch, StringComparer.Ordinal);
        if (model is ICausalLanguageModel && !have.ContainsKey(LanguageModelLoss.Labels) && have.TryGetValue("input_ids", out var ids0)) have[LanguageModelLoss.Labels] = ids0;
        if (model is WhisperForConditionalGeneration w && !have.ContainsKey("decoder_input_ids") && have.TryGetValue(LanguageModelLoss.Labels, out var l0))
        {
            have["decoder_input_ids"] = ShiftRight(Integer(l0, LanguageModelLoss.Labels, source), w.Settings.DecoderStartTokenId, w.Settings.PadTokenId);
        }

        // transformers records the problem type the first labels imply in config.problem_type.
        if (model is BertForSequenceClassification { ProblemType: null } classifier && have.TryGetValue(LanguageModelLoss.Labels, out var l1))
        {
            classifier.ProblemType = BertProblemType.Infer(classifier.NumLabels, l1.DType);
        }

        var inputs = Inputs(model);
        bool bert = model is BertForSequenceClassification or BertForTokenClassification or BertForMaskedLM;
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var (name, description) in inputs)
        {
            // A BERT head's attention_mask and token_type_ids default as in its forward (ones, zeros).
            var t = have.GetValueOrDefault(name) ?? (bert && name != LanguageModelLoss.Labels ? model.DefaultInput(name, have) : null)
                ?? throw new ArgumentException($"{source}: no tensor '{name}' ({description}); model_type '{model.ModelType}' trains on {string.Join(", ", inputs.Select(i => i.Name))} (the file has {string.Join(", ", batch.Keys)})");

            result[name] = description.StartsWith("float", StringComparison.Ordinal)
                ? (t.DType.IsFloat() ? t.Cast(DType.F32) : throw new ArgumentException($"{source}: tensor '{name}' must be floating-point ({description}), got {t.DType}"))
                : Integer(t, name, source);
        }

        var labels = result[LanguageModelLoss.Labels];
        var first = result[inputs[0].Name];
        if (labels.Shape.Count == 0 || first.Shape.Count == 0 || labels.Shape[0] != first.Shape[0])
        {
            throw new ArgumentException($"{source}: '{LanguageModelLoss.Labels}' [{string.Join(", ", labels.Shape)}] and '{inputs[0].Name}' [{string.Join(", ", first.Shape)}] must share the batch dimension");
        }

        if (model is BertForSequenceClassification { NumLabels: 1, ProblemType: BertProblemType.Regression } && labels.Shape is [var b, 1])
        {
            // transformers squeezes [batch, 1] regression targets.
            result[LanguageModelLoss.Labels] = labels = new HostTensor(labels.DType, [b], labels.Data.ToArray());
        }

        if (bert)
        {
            int[] expected = model is BertForSequenceClassification s
                ? s.NumLabels == 1 || s.ProblemType == BertProblemType.SingleLabelClassification ? [first.Shape[0]] : [first.Shape[0], s.NumLabels]
                : first.ShapeArray();
            if (!labels.ShapeArray().SequenceEqual(expected))
            {
                throw new ArgumentException($"{source}: '{LanguageModelLoss.Labels}' must be [{string.Join(", ", expected)}] ({inputs[^1].Description}), got [{string.Join(", ", labels.Shape)}]");
            }
        }
        else
        {
            int expectRank = model is VitForImageClassification ? 1 : 2;
            if (labels.Shape.Count != expectRank) throw new ArgumentException($"{source}: '{LanguageModelLoss.Labels}' must have rank {expectRank}, got [{string.Join(", ", labels.Shape)}]");
            string seqInput = model is WhisperForConditionalGeneration ? "decoder_input_ids" : model is ICausalLanguageModel ? "input_ids" : "";
            if (seqInput.Length > 0 && !result[seqInput].ShapeArray().SequenceEqual(labels.ShapeArray()))
            {
                throw new ArgumentException($"{source}: '{seqInput}' [{string.Join(", ", result[seqInput].Shape)}] and '{LanguageModelLoss.Labels}' [{string.Join(", ", labels.Shape)}] must have the same shape");
            }
        }

        if (bert) CheckBertBatch(model, result, source);
        return result;
    }

    /// <summary>The BERT heads' batch: masks and token types of the ids' shape, integer labels within the classes (or −100).</summary>
    private static void CheckBertBatch(IPretrainedModel model, Dictionary<string, HostTensor> batch, string source)
    {
        var ids = batch["input_ids"];
        if (ids.Rank != 2) throw new ArgumentException($"{source}: 'input_ids' must be [batch, seq], got [{string.Join(", ", ids.Shape)}]");
        foreach (var name in new[] { "attention_mask", "token_type_ids" })
        {
            if (!batch[name].ShapeArray().SequenceEqual(ids.ShapeArray()))
            {
                throw new ArgumentException($"{source}: '{name}' [{string.Join(", ", batch[name].Shape)}] and 'input_ids' [{string.Join(", ", ids.Shape)}] must have the same shape");
            }
        }

        var labels = batch[LanguageModelLoss.Labels];
        if (labels.DType.IsFloat()) return;
        long classes = model switch
        {
            BertForSequenceClassification s => s.NumLabels,
            BertForTokenClassification t => t.NumLabels,
            BertForMaskedLM m => m.Bert.Settings.VocabSize,
            _ => long.MaxValue,
        };
        foreach (long label in labels.ToInt64())
        {
            if (label != Losses.IgnoreIndex && (label < 0 || label >= classes))
            {
                throw new ArgumentException($"{source}: '{LanguageModelLoss.Labels}' holds {label}, outside [0, {classes}) and not the ignored {Losses.IgnoreIndex}");
            }
        }
    }

    /// <summary>Rows <paramref name="start"/> up to <paramref name="start"/> + <paramref name="count"/> of every tensor of a prepared batch (a micro-batch).</summary>
    public static Dictionary<string, HostTensor> Rows(IReadOnlyDictionary<string, HostTensor> batch, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var (name, t) in batch)
        {
            var shape = t.ShapeArray();
            if (start < 0 || count < 1 || start + count > shape[0]) throw new ArgumentOutOfRangeException(nameof(count), $"rows {start}..{start + count} of '{name}' [{string.Join(", ", shape)}]");
            long row = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            int rowBytes = checked((int)(row * t.DType.SizeInBytes()));
            shape[0] = count;
            result[name] = new HostTensor(t.DType, shape, t.Data.Slice(start * rowBytes, count * rowBytes).ToArray());
        }

        return result;
    }

    private static HostTensor Integer(HostTensor t, string name, string source) =>
        t.DType.IsFloat() ? throw new ArgumentException($"{source}: tensor '{name}' must be an integer tensor, got {t.DType}") : t.Cast(DType.I64);

    private static HostTensor ShiftRight(HostTensor labels, long start, long pad)
    {
        var shape = labels.ShapeArray();
        if (shape.Length != 2) throw new ArgumentException($"labels must be [batch, seq], got [{string.Join(", ", shape)}]");
        var src = labels.AsSpan<long>();
        var result = HostTensor.Zeros(DType.I64, shape);
        var dst = result.AsSpan<long>();
        long seq = shape[1];
        for (long b = 0; b < shape[0]; b++)
        {
            dst[(int)(b * seq)] = start;
            for (long t = 1; t < seq; t++)
            {
                long v = src[(int)((b * seq) + t - 1)];
                dst[(int)((b * seq) + t)] = v == Losses.IgnoreIndex ? pad : v;
            }
        }

        return result;
    }

    private static NotSupportedException Unsupported(IPretrainedModel model) =>
        new($"training: transformers defines no loss for model_type '{model.ModelType}' as loaded ({model.GetType().Name}); supported: causal LMs, ViTForImageClassification (pixel_values, labels), WhisperForConditionalGeneration (input_features, labels), BertForSequenceClassification, BertForTokenClassification, BertForMaskedLM (input_ids, labels)");
}
