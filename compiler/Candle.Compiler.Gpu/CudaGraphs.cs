using System.Runtime.InteropServices;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The CUDA driver's stream capture and graph entry points (<c>cuStreamBeginCapture_v2</c>, <c>cuStreamEndCapture</c>,
/// <c>cuGraphInstantiateWithFlags</c>, <c>cuGraphLaunch</c>), bound at run time from libcuda: the launches a run queues
/// on a stream are recorded once into a graph, and the instantiated graph replays them with one launch.
/// </summary>
internal static unsafe class CudaGraphs
{
    private const int CaptureModeRelaxed = 2;
    private static readonly Lazy<Api?> s_api = new(Load);

    /// <summary>Why graphs cannot be used here (no libcuda, a missing entry point), or null when they can.</summary>
    public static string? Missing => s_api.Value is null ? s_missing : null;

    private static string? s_missing;

    /// <summary>
    /// Records what <paramref name="enqueue"/> queues on <paramref name="stream"/> into a graph and instantiates it.
    /// Nothing runs while recording. On failure the capture is ended and the reason thrown.
    /// </summary>
    /// <exception cref="InvalidOperationException">The driver refused the capture or the instantiation (its status is named).</exception>
    public static Graph Capture(nint stream, Action enqueue)
    {
        var api = s_api.Value ?? throw new InvalidOperationException($"CUDA graphs are unavailable: {s_missing}");
        Check(api.BeginCapture(stream, CaptureModeRelaxed), "cuStreamBeginCapture");
        nint graph = 0;
        try
        {
            enqueue();
        }
        catch
        {
            _ = api.EndCapture(stream, &graph);
            if (graph != 0) _ = api.GraphDestroy(graph);
            throw;
        }

        Check(api.EndCapture(stream, &graph), "cuStreamEndCapture");
        nint exec = 0;
        int st = api.Instantiate(&exec, graph, 0);
        if (st != 0)
        {
            _ = api.GraphDestroy(graph);
            Check(st, "cuGraphInstantiateWithFlags");
        }

        return new Graph(api, graph, exec);
    }

    private static void Check(int status, string what)
    {
        if (status != 0) throw new InvalidOperationException($"{what} failed with CUDA status {status}");
    }

    private static Api? Load()
    {
        string[] names = OperatingSystem.IsWindows() ? ["nvcuda"] : ["libcuda.so.1", "libcuda.so"];
        foreach (var name in names)
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            if (NativeLibrary.TryGetExport(lib, "cuStreamBeginCapture_v2", out var begin)
                && NativeLibrary.TryGetExport(lib, "cuStreamEndCapture", out var end)
                && NativeLibrary.TryGetExport(lib, "cuGraphInstantiateWithFlags", out var inst)
                && NativeLibrary.TryGetExport(lib, "cuGraphLaunch", out var launch)
                && NativeLibrary.TryGetExport(lib, "cuGraphExecDestroy", out var execDestroy)
                && NativeLibrary.TryGetExport(lib, "cuGraphDestroy", out var destroy))
            {
                return new Api(
                    (delegate* unmanaged<nint, int, int>)begin,
                    (delegate* unmanaged<nint, nint*, int>)end,
                    (delegate* unmanaged<nint*, nint, ulong, int>)inst,
                    (delegate* unmanaged<nint, nint, int>)launch,
                    (delegate* unmanaged<nint, int>)execDestroy,
                    (delegate* unmanaged<nint, int>)destroy);
            }

            s_missing = $"{name} has no stream-capture or graph entry points";
            return null;
        }

        s_missing = "libcuda could not be loaded";
        return null;
    }

    /// <summary>The bound driver entry points.</summary>
    internal sealed class Api
    {
        private readonly delegate* unmanaged<nint, int, int> _beginCapture;
        private readonly delegate* unmanaged<nint, nint*, int> _endCapture;
        private readonly delegate* unmanaged<nint*, nint, ulong, int> _instantiate;
        private readonly delegate* unmanaged<nint, nint, int> _launch;
        private readonly delegate* unmanaged<nint, int> _execDestroy;
        private readonly delegate* unmanaged<nint, int> _graphDestroy;

        public Api(
            delegate* unmanaged<nint, int, int> beginCapture,
            delegate* unmanaged<nint, nint*, int> endCapture,
            delegate* unmanaged<nint*, nint, ulong, int> instantiate,
            delegate* unmanaged<nint, nint, int> launch,
            delegate* unmanaged<nint, int> execDestroy,
            delegate* unmanaged<nint, int> graphDestroy)
        {
            _beginCapture = beginCapture;
            _endCapture = endCapture;
            _instantiate = instantiate;
            _launch = launch;
            _execDestroy = execDestroy;
            _graphDestroy = graphDestroy;
        }

        public int BeginCapture(nint stream, int mode) => _beginCapture(stream, mode);

        public int EndCapture(nint stream, nint* graph) => _endCapture(stream, graph);

        public int Instantiate(nint* exec, nint graph, ulong flags) => _instantiate(exec, graph, flags);

        public int Launch(nint exec, nint stream) => _launch(exec, stream);

        public int ExecDestroy(nint exec) => _execDestroy(exec);

        public int GraphDestroy(nint graph) => _graphDestroy(graph);
    }

    /// <summary>An instantiated graph: <see cref="Launch"/> replays the recorded launches on a stream.</summary>
    public sealed class Graph : IDisposable
    {
        private readonly Api _api;
        private nint _graph, _exec;

        internal Graph(Api api, nint graph, nint exec) => (_api, _graph, _exec) = (api, graph, exec);

        /// <summary>Queues the recorded launches on <paramref name="stream"/>.</summary>
        /// <exception cref="InvalidOperationException">The driver refused the launch.</exception>
        public void Launch(nint stream)
        {
            ObjectDisposedException.ThrowIf(_exec == 0, this);
            Check(_api.Launch(_exec, stream), "cuGraphLaunch");
        }

        /// <summary>Destroys the executable graph and the graph.</summary>
        public void Dispose()
        {
            if (_exec != 0) _ = _api.ExecDestroy(_exec);
            if (_graph != 0) _ = _api.GraphDestroy(_graph);
            (_exec, _graph) = (0, 0);
        }
    }
}
