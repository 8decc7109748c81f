using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Candle.Compiler.Gpu;

/// <summary>
/// Compiles kernels to PTX and to OpenCL C through ILGPU's backends without a device (what CI checks, and what a
/// plan dump shows): PTX for sm_80 / ISA 8.0 (the H100 JIT-compiles it), OpenCL C 2.0.
/// </summary>
public sealed class KernelSource : IDisposable
{
    private readonly Context _context;
    private readonly PTXBackend _ptx;
    private readonly CLBackend _cl;

    /// <summary>Creates the two backends.</summary>
    public KernelSource()
    {
        _context = Context.Create(b => b.Optimize(OptimizationLevel.O2).EnableAlgorithms());
        _ptx = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, new CudaInstructionSet(8, 0), nvvmAPI: null);
        _cl = new CLBackend(_context, new CLCapabilityContext(true, true, true, true, true), CLDeviceVendor.Other, CLCVersion.CL20);
    }

    /// <summary>The PTX of a kernel method (explicitly grouped when it reads Grid/Group indices itself).</summary>
    public string Ptx(MethodInfo kernel, bool explicitlyGrouped)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var entry = Entry(kernel, explicitlyGrouped);
        var spec = KernelSpecialization.Empty;
        return ((PTXCompiledKernel)_ptx.Compile(entry, spec)).PTXAssembly;
    }

    /// <summary>The OpenCL C of a kernel method.</summary>
    public string OpenCL(MethodInfo kernel, bool explicitlyGrouped)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var entry = Entry(kernel, explicitlyGrouped);
        var spec = KernelSpecialization.Empty;
        return ((CLCompiledKernel)_cl.Compile(entry, spec)).Source;
    }

    /// <summary>Releases the backends and the context.</summary>
    public void Dispose()
    {
        _ptx.Dispose();
        _cl.Dispose();
        _context.Dispose();
    }

    private static EntryPointDescription Entry(MethodInfo kernel, bool explicitlyGrouped) => explicitlyGrouped
        ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel)
        : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
}
