using Candle.Runtime;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// The losses of a sequence classifier, named as transformers' <c>config.problem_type</c>, and the choice transformers
/// makes when the config leaves it unset.
/// </summary>
public static class BertProblemType
{
    /// <summary>Mean squared error of the squeezed logits against float labels (num_labels 1).</summary>
    public const string Regression = "regression";

    /// <summary>Cross-entropy of the logits against integer class ids (−100 ignored).</summary>
    public const string SingleLabelClassification = "single_label_classification";

    /// <summary>Binary cross-entropy with logits, mean over every logit, against float targets [batch, num_labels].</summary>
    public const string MultiLabelClassification = "multi_label_classification";

    /// <summary>The three names.</summary>
    public static IReadOnlyList<string> All { get; } = [Regression, SingleLabelClassification, MultiLabelClassification];

    /// <summary>
    /// transformers' choice when <c>problem_type</c> is unset: regression for one label, single-label classification
    /// for integer labels, multi-label classification otherwise.
    /// </summary>
    public static string Infer(int numLabels, DType labels) =>
        numLabels == 1 ? Regression : !labels.IsFloat() ? SingleLabelClassification : MultiLabelClassification;
}
