#!/usr/bin/env bash
# Real programs under LD_PRELOAD=libnpool_malloc.so, each output checked:
#   - malloc_stress (this project's multi-threaded C program: every allocation
#     function, cross-thread frees, thread exit, fork, foreign pointers)
#   - new_delete_prog (C++: containers on threads, every operator new/delete form)
#   - python3 running a script that allocates heavily on four threads and forks
#   - sort on a large input, and git (when installed) committing and reading a repository
#   - NPOOL_CONF in preload mode: stats_print:true at exit, a bad key reported
# Outputs of the system's programs must equal their outputs without the preload.
# Usage: malloc_preload_test.sh LIB MALLOC_STRESS NEW_DELETE_PROG
set -euo pipefail

lib=$(realpath "$1")
stress=$2
newdel=$3
work=${TEST_TMPDIR:-$(mktemp -d)}
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
under_npool() { LD_PRELOAD="$lib" "$@"; }

# 1. The project's own C program.
out=$(under_npool "$stress" --foreign 2>"$work/stress.err") || fail "malloc_stress exited $?: $(cat "$work/stress.err")"
if grep -q 'malloc_stress: ok, npool: yes' <<<"$out" && grep -q 'foreign pointers left alone' <<<"$out"; then
  pass "malloc_stress under the preload"
else
  fail "malloc_stress: $out"
fi
grep -q '^npool: free(' "$work/stress.err" && pass "the first foreign free is reported" ||
  fail "no report of the foreign free: $(cat "$work/stress.err")"

# 2. C++ new/delete.
out=$(under_npool "$newdel" 2>&1) || fail "new_delete_prog exited $?: $out"
grep -q 'new_delete: ok, npool: yes' <<<"$out" && pass "new_delete_prog under the preload" ||
  fail "new_delete_prog: $out"

# 3. python3, four threads and a fork.
cat >"$work/alloc.py" <<'PY'
import hashlib, json, os, threading
def work(k, out):
    d = {}
    for i in range(40000):
        d[str(i * k)] = [i] * (i % 7) + [str(i) * (i % 13)]
    for i in range(0, 40000, 2):
        del d[str(i * k)]
    blob = bytearray()
    for i in range(2000):
        blob += bytes(i % 251 for _ in range(64))
    out[k] = hashlib.sha256(json.dumps(sorted(d.items())).encode() + bytes(blob)).hexdigest()
out = {}
threads = [threading.Thread(target=work, args=(k, out)) for k in range(1, 5)]
for t in threads: t.start()
pid = os.fork()   # while the threads allocate
if pid == 0:
    os._exit(0 if len([bytes(1000) for _ in range(20000)]) == 20000 else 1)
for t in threads: t.join()
_, status = os.waitpid(pid, 0)
print(sorted(out.items()), "child", status)
PY
PY=/usr/bin/python3
if [ -x "$PY" ]; then
  want=$("$PY" "$work/alloc.py")
  got=$(under_npool "$PY" "$work/alloc.py") || fail "python3 exited $?"
  [ "$got" = "$want" ] && pass "python3 (threads, fork)" || fail "python3 output differs: $got"
else
  fail "python3 missing (tools/setup.sh installs it)"
fi

# 4. sort on a large input (300,000 lines, some long).
awk 'BEGIN { s = 12345; for (i = 0; i < 300000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
       printf "%d %s\n", s, (i % 100 == 0 ? sprintf("%2000d", i) : "x") } }' >"$work/in.txt"
want=$(sort "$work/in.txt" | md5sum)
got=$(under_npool sort "$work/in.txt" | md5sum)
[ "$got" = "$want" ] && pass "sort of 300k lines" || fail "sort output differs"
got=$(under_npool sort -S 2M -T "$work" "$work/in.txt" | md5sum) # temporary files, merges
[ "$got" = "$want" ] && pass "sort with a 2 MiB buffer (merges)" || fail "sort -S 2M output differs"

# 5. git, when the machine has it.
if command -v git >/dev/null; then
  repo="$work/repo"
  rm -rf "$repo"
  under_npool git init -q "$repo"
  for i in $(seq 1 200); do seq "$i" 500 >"$repo/f$i.txt"; done
  (cd "$repo" && under_npool git add . && under_npool git -c user.name=t -c user.email=t@t commit -qm one &&
    under_npool git gc -q) || fail "git commit/gc under the preload"
  got=$(cd "$repo" && under_npool git log --stat | tail -n 1)
  want=$(cd "$repo" && git log --stat | tail -n 1)
  [ -n "$got" ] && [ "$got" = "$want" ] && pass "git init/add/commit/gc/log" || fail "git log differs: $got"
fi

# 6. NPOOL_CONF in preload mode. sort closes stderr in its own exit handler.
err=$(NPOOL_CONF=stats_print:true under_npool sort "$work/in.txt" 2>&1 >/dev/null)
grep -q '^npool stats: strategy' <<<"$err" && grep -q '^small ' <<<"$err" &&
  pass "stats_print:true prints the stats at exit" || fail "no stats at exit: $err"
err=$(NPOOL_CONF=bogus_key:1,arenas:2 under_npool "$stress" 2>&1 >/dev/null)
grep -q 'unknown key "bogus_key"' <<<"$err" && pass "a bad NPOOL_CONF key is reported by name" ||
  fail "bad key not reported: $err"
out=$(NPOOL_CONF=arenas:3,small_cache_size:0,stats_print:true under_npool "$stress" 2>"$work/conf.err")
grep -q 'malloc_stress: ok, npool: yes' <<<"$out" && grep -q 'allocator  3 arenas' "$work/conf.err" &&
  pass "NPOOL_CONF settings apply to the preloaded malloc" || fail "NPOOL_CONF arenas:3: $(head -3 "$work/conf.err")"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
