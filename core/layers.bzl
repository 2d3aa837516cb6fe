"""The core's layers as Bazel targets.

Each layer (core/base, core/memory, ...) is a folder whose BUILD calls
np_layer once. Every layer is built once per concurrency strategy and once
more with fault injection compiled in, so that each library above (//core:
npool_<s>, npool_faults_<s>) links one consistent stack:

    <name>_<strategy>          e.g. //core/memory:memory_rseq
    <name>_faults_<strategy>   the same with -DNP_FAULT_INJECTION=1 (testonly)
    srcs                       the layer's sources, for the fuzzing build

`deps` name the layers below by their base label ("//core/base:base"); the
suffix of the variant being built is appended. `plain_deps` are taken as
they are (the public headers). A layer sees only its own
headers and those of the layers it names (Bazel's sandbox holds nothing
else), so an include of a higher layer fails to build.
"""

STRATEGIES = ["mutex", "ck", "rseq"]

# Optimised builds drop the frame pointer (see NP_COPTS in core/BUILD).
NP_LAYER_COPTS = ["-fvisibility=hidden"] + select({
    "//core:opt": ["-fomit-frame-pointer"],
    "//conditions:default": [],
})

_VARIANTS = {"": [], "_faults": ["-DNP_FAULT_INJECTION=1"]}

def np_layer(name, srcs, hdrs, deps = [], plain_deps = [], textual_hdrs = []):
    for variant, copts in _VARIANTS.items():
        for s in STRATEGIES:
            native.cc_library(
                name = name + variant + "_" + s,
                srcs = srcs,
                hdrs = hdrs,
                textual_hdrs = textual_hdrs,
                copts = NP_LAYER_COPTS + copts,
                linkopts = ["-pthread"],
                # Static only: the layers share hidden symbols, which a
                # shared library of one layer alone could not resolve.
                linkstatic = True,
                testonly = variant != "",
                deps = [d + variant + "_" + s for d in deps] + plain_deps + ["//lockfree:strategy_" + s],
            )
    native.filegroup(name = "srcs", srcs = srcs)

def np_layer_tests(names, layer, srcs = [], sizes = {}):
    """One cc_test per name and strategy (<name>_<strategy>), from <name>.cc
    and srcs (the layer's private headers, fixtures), linking the layer
    `layer` (":pool") and the layers below it only. rseq: no TSan, as
    everywhere (STRATEGY_TEST_TAGS in core/BUILD). sizes: name -> test size
    where it is not "small"."""
    for name in names:
        for s in STRATEGIES:
            native.cc_test(
                name = name + "_" + s,
                size = sizes.get(name, "small"),
                srcs = [name + ".cc"] + srcs,
                linkstatic = True,
                tags = ["no_tsan"] if s == "rseq" else [],
                deps = [layer + "_" + s, "@debian//:gtest_main"],
            )
