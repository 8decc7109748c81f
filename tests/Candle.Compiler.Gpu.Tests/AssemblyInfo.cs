// The test classes share one device per kind and process (GpuBackend.GetDevice caches it): ILGPU's CPU accelerator
// here, one CUDA device and its stream on the GPU machine. Classes running at once interleaved their launches on that
// stream and a quantized lookup once read its output before its kernel had run, so the classes run one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
