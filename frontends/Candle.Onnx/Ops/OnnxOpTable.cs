namespace Candle.Onnx.Ops;

/// <summary>
/// The ops the importer maps, by op type for the default domain (ai.onnx) and as "domain:OpType" for others
/// (ai.onnx.preview.training). Each family registers its ops in its own file; an importer reads
/// <see cref="NodeImport.Opset"/> where the spec changed an op between versions.
/// </summary>
internal static class OnnxOpTable
{
    private static readonly Lazy<Dictionary<string, OpImporter>> Table = new(Build);

    /// <summary>The importer of <paramref name="opType"/> in <paramref name="domain"/> (empty: the default domain), or null.</summary>
    public static OpImporter? Find(string domain, string opType) => Table.Value.GetValueOrDefault(domain.Length == 0 ? opType : domain + ":" + opType);

    /// <summary>The op types mapped ("domain:OpType" outside the default domain).</summary>
    public static IEnumerable<string> OpTypes => Table.Value.Keys.Order(StringComparer.Ordinal);

    private static Dictionary<string, OpImporter> Build()
    {
        var t = new Dictionary<string, OpImporter>(StringComparer.Ordinal);
        ElementwiseOps.Register(t);
        ActivationOps.Register(t);
        MatrixOps.Register(t);
        ConvOps.Register(t);
        NormOps.Register(t);
        ReduceOps.Register(t);
        ShapeOps.Register(t);
        TensorOps.Register(t);
        IndexingOps.Register(t);
        ScatterOps.Register(t);
        LossOps.Register(t);
        AttentionOps.Register(t);
        ResizeOps.Register(t);
        SelectionOps.Register(t);
        EinsumOps.Register(t);
        WindowOps.Register(t);
        QuantizeOps.Register(t);
        LinearAttentionOps.Register(t);
        CausalConvOps.Register(t);
        FlexAttentionOps.Register(t);
        BitCastOps.Register(t);
        TensorScatterOps.Register(t);
        MlOps.Register(t);
        RoiAlignOps.Register(t);
        DeformConvOps.Register(t);
        TreeEnsembleOps.Register(t);
        TfIdfOps.Register(t);
        RecurrentOps.Register(t);
        PoolOps.Register(t);
        TrainingOps.Register(t);
        SpectralOps.Register(t);
        GridSampleOps.Register(t);
        AffineGridOps.Register(t);
        SequenceOps.Register(t);
        ControlFlowOps.Register(t);
        CropOps.Register(t);
        BitwiseOps.Register(t);
        Col2ImOps.Register(t);
        return t;
    }
}
