"""GoogleTest suites of the whole library, once per concurrency strategy.

np_library_tests(names, ...) makes, for each name, <name>_<strategy> from
<name>.cc (linked statically with //core:npool_<strategy>, so a suite can
reach the library's hidden internals where its package lets it include
them) and <name>_rseq_fallback: the rseq suite again with glibc's rseq
registration off, its per-thread fallback, which the stats name.
"""

STRATEGIES = ["mutex", "ck", "rseq"]

# ThreadSanitizer cannot follow restartable sequences (assembly the kernel may
# restart): TSan runs the mutex and ck strategies' tests only.
STRATEGY_TEST_TAGS = {"mutex": [], "ck": [], "rseq": ["no_tsan"]}

# fork() takes every npool lock at once (fork.c), more than the 64 that
# ThreadSanitizer's deadlock detector can track: it stays off in the tests that
# fork (the data-race checks stay on).
TSAN_FORK_ENV = {"TSAN_OPTIONS": "detect_deadlocks=0"}

def np_library_tests(names, srcs = [], medium = [], forking = []):
    """names: the suites; srcs: headers they share (fixtures, the package's
    internal headers); medium: suites that need more than 60 s under a
    sanitizer on 2 CPUs; forking: suites that fork (fork() itself, or
    GoogleTest death tests)."""
    for name in names:
        size = "medium" if name in medium else "small"
        for s in STRATEGIES:
            native.cc_test(
                name = name + "_" + s,
                size = size,
                srcs = [name + ".cc"] + srcs,
                linkstatic = True,
                # Exports the test binaries' functions so that leak reports
                # (backtrace_symbols) name them (leak_test).
                linkopts = ["-rdynamic"],
                env = TSAN_FORK_ENV if name in forking else {},
                tags = STRATEGY_TEST_TAGS[s],
                deps = ["//core:npool_" + s, "@debian//:gtest_main"],
            )
        native.sh_test(
            name = name + "_rseq_fallback",
            size = size,
            srcs = ["//tools:run_without_rseq.sh"],
            args = ["$(location :" + name + "_rseq)"],
            data = [":" + name + "_rseq"],
            tags = ["no_tsan"],
        )
