"""cc_whole_archive: one cc_library and everything it links, as one archive.

Bazel archives each cc_library on its own (core/libnpool_mutex.a, and the
strategy's lockfree/<s>/lib<s>.a or .lo beside it), and a cc_binary with
linkshared = True links only the archive members that something references.
This rule
  - collects the static libraries that `dep` links (its own and every
    dependency's, PIC objects where Bazel built them) into one archive, `out`:
    the self-contained static library that the install ships (libnpool.a);
  - writes the link flags they carry (cc_library linkopts: -pthread, -lck)
    into `flags` (pkg-config's Libs.private);
  - provides CcInfo with that archive marked alwayslink, so that a
    cc_binary(linkshared = True) depending on it links every object: the
    shared library (libnpool.so) then holds the whole library, and exports
    what the sources mark visible (NP_API).
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

def _cc_whole_archive_impl(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    linking = ctx.attr.dep[CcInfo].linking_context
    archives = []
    flags = []
    for linker_input in linking.linker_inputs.to_list():
        for flag in linker_input.user_link_flags:
            if flag not in flags:
                flags.append(flag)
        for lib in linker_input.libraries:
            a = lib.pic_static_library or lib.static_library
            if a and a not in archives:
                archives.append(a)
    if not archives:
        fail("%s links no static library" % ctx.attr.dep.label)

    # ar's MRI script: members of every archive into one (members with the
    # same name in two archives are both kept), then an index.
    mri = ctx.actions.declare_file(ctx.label.name + ".mri")
    ctx.actions.write(
        mri,
        "create %s\n" % ctx.outputs.out.path +
        "".join(["addlib %s\n" % a.path for a in archives]) +
        "save\nend\n",
    )
    ctx.actions.run_shell(
        inputs = archives + [mri],
        tools = cc_toolchain.all_files,
        outputs = [ctx.outputs.out],
        command = '"$1" -M < "$2" && "$1" s "$3"',
        arguments = [cc_toolchain.ar_executable, mri.path, ctx.outputs.out.path],
        mnemonic = "CombineArchives",
        progress_message = "Combining %d archives into %s" % (len(archives), ctx.outputs.out.short_path),
    )
    ctx.actions.write(ctx.outputs.flags, " ".join(flags) + "\n")

    feature_configuration = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )
    library = cc_common.create_library_to_link(
        actions = ctx.actions,
        feature_configuration = feature_configuration,
        cc_toolchain = cc_toolchain,
        pic_static_library = ctx.outputs.out,
        alwayslink = True,
    )
    linker_input = cc_common.create_linker_input(
        owner = ctx.label,
        libraries = depset([library]),
        user_link_flags = depset(flags),
    )
    return [
        DefaultInfo(files = depset([ctx.outputs.out])),
        CcInfo(
            compilation_context = ctx.attr.dep[CcInfo].compilation_context,
            linking_context = cc_common.create_linking_context(
                linker_inputs = depset([linker_input]),
            ),
        ),
    ]

cc_whole_archive = rule(
    implementation = _cc_whole_archive_impl,
    attrs = {
        "dep": attr.label(mandatory = True, providers = [CcInfo]),
        "out": attr.output(mandatory = True, doc = "the combined archive (lib<name>.a)"),
        "flags": attr.output(mandatory = True, doc = "the link flags, one line"),
        "_cc_toolchain": attr.label(default = "@bazel_tools//tools/cpp:current_cc_toolchain"),
    },
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
)

def npool_shared_library(name, deps, soversion, linkopts = []):
    """lib<name>.so (a cc_binary, linkshared), with the soname
    lib<name>.so.<soversion>, linked --as-needed (no libstdc++ or libm where
    nothing calls them), and without the linker's own symbols
    (linker_symbols.lds): it exports what its objects mark visible."""
    script = "//tools/install:linker_symbols.lds"
    native.cc_binary(
        name = "lib%s.so" % name,
        linkshared = True,
        linkopts = [
            "-Wl,-soname,lib%s.so.%s" % (name, soversion),
            "-Wl,--as-needed",
            "-Wl,--version-script=$(location %s)" % script,
        ] + linkopts,
        deps = deps + [script],
    )
