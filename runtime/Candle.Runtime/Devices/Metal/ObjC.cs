using System.Runtime.InteropServices;

namespace Candle.Runtime.Devices.Metal;

/// <summary>The Objective-C runtime and Metal entry points (macOS only; nothing here is called elsewhere).</summary>
internal static partial class ObjC
{
    private const string LibObjC = "/usr/lib/libobjc.A.dylib";
    private const string MetalFramework = "/System/Library/Frameworks/Metal.framework/Metal";

    /// <summary>Metal's <c>MTLSize</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct MTLSize(nuint Width, nuint Height, nuint Depth);

    [LibraryImport(LibObjC, EntryPoint = "objc_getClass", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint GetClass(string name);

    [LibraryImport(LibObjC, EntryPoint = "sel_registerName", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Selector(string name);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial nint Send(nint receiver, nint selector);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial nint Send(nint receiver, nint selector, nint a);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial nint Send(nint receiver, nint selector, nint a, nint b);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial nint Send(nint receiver, nint selector, nint a, nint b, out nint error);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial nint Send(nint receiver, nint selector, nint a, out nint error);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial void SendVoid(nint receiver, nint selector);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial void SendVoid(nint receiver, nint selector, nint a);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial void SendVoid(nint receiver, nint selector, [MarshalAs(UnmanagedType.U1)] bool a);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial void SendVoid(nint receiver, nint selector, nint a, nuint b, nuint c);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial void SendVoid(nint receiver, nint selector, MTLSize a, MTLSize b);

    [LibraryImport(LibObjC, EntryPoint = "objc_msgSend")]
    internal static partial nint Send(nint receiver, nint selector, nuint a, nuint b);

    [LibraryImport(MetalFramework, EntryPoint = "MTLCreateSystemDefaultDevice")]
    internal static partial nint CreateSystemDefaultDevice();

    /// <summary>An NSString of a .NET string (autoreleased).</summary>
    internal static nint NSString(string s)
    {
        nint utf8 = Marshal.StringToCoTaskMemUTF8(s);
        try
        {
            return Send(GetClass("NSString"), Selector("stringWithUTF8String:"), utf8);
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8);
        }
    }

    /// <summary>The text of an NSString, or of an NSError's <c>localizedDescription</c>.</summary>
    internal static string Describe(nint obj)
    {
        if (obj == 0) return "(no description)";
        nint description = Send(obj, Selector("localizedDescription"));
        nint utf8 = Send(description == 0 ? obj : description, Selector("UTF8String"));
        return Marshal.PtrToStringUTF8(utf8) ?? "";
    }

    /// <summary>Releases an object the caller owns.</summary>
    internal static void Release(nint obj)
    {
        if (obj != 0) SendVoid(obj, Selector("release"));
    }
}
