"""libFuzzer targets built with clang, beside the gcc toolchain Bazel uses.

Bazel 4.2.3's auto-configured toolchain is gcc, and gcc has no libFuzzer. These
two rules call Debian's `clang` (tools/setup.sh installs it) directly:

  np_fuzz_library  compiles the core's sources (and a strategy's) once with
                   -fsanitize=fuzzer-no-link,address,undefined into an archive;
                   the include paths, defines, headers and link options come
                   from the cc_library deps (e.g. //core:npool_mutex), so no
                   list is repeated here.
  np_fuzz_binary   compiles a fuzzer and links it with the archive and
                   -fsanitize=fuzzer,address,undefined: an executable for
                   `bazel run` (libFuzzer's flags after `--`).
"""

NpFuzzLibInfo = provider(fields = ["archive", "flags", "headers", "linkopts"])

FUZZ_CFLAGS = [
    "-g",
    "-O1",
    "-fno-omit-frame-pointer",
    "-std=gnu11",
    "-Wall",
    "-Wno-unused-parameter",
    "-fno-sanitize-recover=undefined",
    # The rseq strategy's batch push and pop are inline assembly that takes 14
    # registers; clang's ASan keeps one more for its use-after-return fake
    # stack and then fails ("inline assembly requires more registers than
    # available"). Use-after-return detection is off at run time by default
    # anyway; npool's blocks come from mmap, which ASan does not track.
    "-fsanitize-address-use-after-return=never",
    # Sanitized build: the core's tests and workloads size themselves down.
    "-DNP_SANITIZER=1",
]

def _cc_flags(deps):
    flags, headers, linkopts = [], [], []
    for d in deps:
        cc = d[CcInfo].compilation_context
        headers.append(cc.headers)
        for i in cc.includes.to_list():
            flags += ["-I", i]
        for i in cc.quote_includes.to_list():
            flags += ["-iquote", i]
        for i in cc.system_includes.to_list():
            flags += ["-isystem", i]
        for x in cc.defines.to_list():
            flags.append("-D" + x)
        for li in d[CcInfo].linking_context.linker_inputs.to_list():
            for f in li.user_link_flags:
                if f not in linkopts:
                    linkopts.append(f)
    return flags, depset(transitive = headers), linkopts

def _compile(ctx, src, flags, headers, sanitize):
    obj = ctx.actions.declare_file("_fuzz_objs/%s/%s.o" % (ctx.label.name, src.short_path.replace("/", "_")))
    ctx.actions.run_shell(
        inputs = depset([src], transitive = [headers]),
        outputs = [obj],
        command = 'exec clang "$@"',
        arguments = FUZZ_CFLAGS + [sanitize] + flags + ["-c", src.path, "-o", obj.path],
        mnemonic = "FuzzCompile",
        progress_message = "clang (fuzzing) %s" % src.short_path,
        use_default_shell_env = True,
    )
    return obj

def _np_fuzz_library_impl(ctx):
    flags, headers, linkopts = _cc_flags(ctx.attr.deps)
    objs = [_compile(ctx, f, flags, headers, "-fsanitize=fuzzer-no-link,address,undefined")
            for f in ctx.files.srcs if f.extension == "c"]
    archive = ctx.actions.declare_file("lib%s.a" % ctx.label.name)
    ctx.actions.run_shell(
        inputs = objs,
        outputs = [archive],
        command = 'rm -f "$1" && out="$1" && shift && exec ar rcs "$out" "$@"',
        arguments = [archive.path] + [o.path for o in objs],
        mnemonic = "FuzzArchive",
        use_default_shell_env = True,
    )
    return [
        DefaultInfo(files = depset([archive])),
        NpFuzzLibInfo(archive = archive, flags = flags, headers = headers, linkopts = linkopts),
    ]

np_fuzz_library = rule(
    implementation = _np_fuzz_library_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = True),
        "deps": attr.label_list(providers = [CcInfo]),
    },
)

def _np_fuzz_binary_impl(ctx):
    lib = ctx.attr.lib[NpFuzzLibInfo]
    headers = depset(ctx.files.hdrs, transitive = [lib.headers])
    objs = [_compile(ctx, f, lib.flags + ctx.attr.copts, headers, "-fsanitize=fuzzer,address,undefined")
            for f in ctx.files.srcs if f.extension == "c"]
    exe = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.run_shell(
        inputs = objs + [lib.archive],
        outputs = [exe],
        command = 'exec clang "$@"',
        arguments = ["-fsanitize=fuzzer,address,undefined", "-o", exe.path] +
                    [o.path for o in objs] + [lib.archive.path] + lib.linkopts + ["-lm"],
        mnemonic = "FuzzLink",
        progress_message = "clang (fuzzing) linking %s" % exe.short_path,
        use_default_shell_env = True,
    )
    return [DefaultInfo(executable = exe, files = depset([exe]))]

np_fuzz_binary = rule(
    implementation = _np_fuzz_binary_impl,
    executable = True,
    attrs = {
        "srcs": attr.label_list(allow_files = True),
        "hdrs": attr.label_list(allow_files = True),
        "copts": attr.string_list(),
        "lib": attr.label(providers = [NpFuzzLibInfo]),
    },
)
