/* Where a `bazel run` or `bazel test` program finds the files it depends on. */
#ifndef NP_RUNFILES_H
#define NP_RUNFILES_H

/* The directory `sub` (e.g. "experiments") of this workspace's runfiles tree
 * (RUNFILES_DIR, TEST_SRCDIR, or argv0.runfiles), or NULL when there is none.
 * The result is a static buffer. */
const char *np_runfiles_dir(const char *argv0, const char *sub);

#endif
