#!/usr/bin/env bash
# Plots one machine's allocator sweep (the CSV the experiment sweep writes).
#
#   experiments/plot.sh CSV OUTDIR
#
# CSV header, exactly:
#   machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,
#   lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes
# or that followed by $WHERE below (npool's bytes at the peak, by where they
# are: runs since 2026-12-07), or by $WHERE,$HUGE_TAIL (later runs), one row per run. A run with ops_per_s empty or 0 failed: it is skipped,
# counted and warned about on stderr. Workloads, distributions and allocators
# are taken in their order of first appearance; known allocators keep a fixed
# colour in every figure.
#
# Writes into OUTDIR (created if needed), each figure as .svg and .png; every
# multi-panel figure has one panel per distribution ("no data" where the
# workload lacks it); "median" is the median over repeats:
#   throughput_<workload>     Mops/s (alloc+free pairs) against threads, one line
#                             per allocator, error bars min..max over repeats
#   relative_<workload>       median throughput / jemalloc's median in the same
#                             (workload, distribution, threads) cell; a line at
#                             1.0 (not drawn when the CSV has no jemalloc rows);
#                             a log scale in a panel whose ratios span > 10x
#   latency_<workload>        p50, p99, p99.9 per allocator call (ns, log y),
#                             clustered bars per allocator, at the largest thread
#                             count of each panel
#   memory_<workload>         peak RSS in MiB per allocator, largest thread count
#   rss_over_live_<workload>  peak RSS / peak live bytes requested, per allocator
#                             (median of the per-run ratios), largest thread count
#   rss_<workload>_<dist>     (when the CSV's folder has the sweep's rss/ traces)
#                             resident set over time per allocator, first repeat,
#                             largest thread count traced, and the live bytes
#   where_<workload>          (runs with the breakdown columns) npool's peak RSS
#                             stacked by where its bytes were, beside the peers'
#                             peak RSS, largest thread count
#   summary.csv               one row per (workload, distribution, threads,
#                             allocator): the numbers the paper quotes
# and prints the paths of the files written, one a line, on stdout.
#
# Needs bash, awk (POSIX; Debian's mawk is fine), sort and gnuplot with the svg
# and pngcairo terminals (gnuplot-nox). GNUPLOT in the environment overrides
# the gnuplot command.
set -Eeuo pipefail

PROG=plot.sh
# A command that stops the script names itself (else a SIGPIPE exits silently).
trap 'echo "$PROG: error: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR
HEADER="machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes"
# Runs since 2026-12-07 add npool's breakdown of its bytes at the peak (result_csv.h).
WHERE="np_active_bytes,np_thread_cache_bytes,np_remote_bytes,np_cpu_cache_bytes,np_transfer_bytes,np_subpage_free_bytes,np_pages_resident_bytes,np_pages_purged_bytes,np_retained_bytes,np_metadata_bytes,np_breakdown_rss_bytes"
# and, later, the span past huge blocks whose span was reused (maybe resident).
HUGE_TAIL="np_huge_tail_bytes"
GNUPLOT=${GNUPLOT:-gnuplot}

die() { echo "$PROG: error: $*" >&2; exit 1; }
warn() { echo "$PROG: warning: $*" >&2; }

# ---------------------------------------------------------------------------
# Names, colours, strings.

# Fixed colour and point type per known allocator; others take a fallback.
alloc_style() {  # NAME INDEX -> "lc rgb '#rrggbb' pt N"
  local c pt
  case "$1" in
    npool-mutex) c='#1f77b4'; pt=5 ;;
    npool-ck)    c='#17becf'; pt=7 ;;
    npool-rseq)  c='#2ca02c'; pt=9 ;;
    glibc)       c='#7f7f7f'; pt=4 ;;
    jemalloc)    c='#d62728'; pt=6 ;;
    mimalloc)    c='#ff7f0e'; pt=8 ;;
    tcmalloc)    c='#9467bd'; pt=10 ;;
    *)
      local fallback=('#8c564b' '#e377c2' '#bcbd22' '#000000' '#393b79' '#637939')
      c=${fallback[$(( $2 % ${#fallback[@]} ))]}; pt=$(( 1 + $2 % 3 )) ;;
  esac
  printf "lc rgb '%s' pt %d" "$c" "$pt"
}
alloc_rgb() { alloc_style "$1" "$2" | sed "s/^lc rgb '\\(#[0-9a-f]*\\)'.*/\\1/"; }

dist_title() {
  case "$1" in
    fixed64) echo "fixed 64 B" ;;
    small)   echo "uniform 16-512 B" ;;
    net)     echo "network mix 256 B-16 KiB + tail > 64 KiB" ;;
    mixed)   echo "mixed incl. normal and huge" ;;
    large)   echo "large 1-32 MiB, 4 live per thread" ;;
    invsq)   echo "inverse-square 4 B-32 KiB" ;;
    *)       echo "$1" ;;
  esac
}

gq() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }   # a gnuplot '...' string
fname() { printf '%s' "$1" | tr -c 'A-Za-z0-9._+-' '_'; } # a safe file-name part

# ---------------------------------------------------------------------------
# Input checks and aggregation.

check_input() {
  [ "$#" -eq 2 ] || die "usage: $PROG CSV OUTDIR  (got $# argument(s))"
  CSV=$1 OUTDIR=$2
  [ -r "$CSV" ] && [ ! -d "$CSV" ] && cat -- "$CSV" > "$TMP/input.csv" 2>/dev/null ||
    die "cannot read CSV '$CSV'"
  command -v "$GNUPLOT" >/dev/null 2>&1 ||
    die "gnuplot not found ('$GNUPLOT'); install gnuplot-nox: bash tools/setup.sh"
  local line
  line=$(head -n 1 "$TMP/input.csv" | tr -d '\r' | sed 's/^\xef\xbb\xbf//')
  [ -n "$line" ] || die "'$CSV' is empty (no header line)"
  [ "$line" = "$HEADER" ] || [ "$line" = "$HEADER,$WHERE" ] || [ "$line" = "$HEADER,$WHERE,$HUGE_TAIL" ] && return 0
  awk -v want="$HEADER,$WHERE,$HUGE_TAIL" -v got="$line" 'BEGIN {
    nw = split(want, w, ","); ng = split(got, g, ",")
    for (i = 1; i <= nw || i <= ng; i++) {
      if (i > ng) { printf "column %d: expected \"%s\", header ends after %d column(s)\n", i, w[i], ng; exit }
      if (i > nw) { printf "column %d: unexpected extra column \"%s\" (expected %d columns)\n", i, g[i], nw; exit }
      if (w[i] != g[i]) { printf "column %d: expected \"%s\", got \"%s\"\n", i, w[i], g[i]; exit }
    }
  }' > "$TMP/hdr"
  die "wrong CSV header in '$CSV': $(cat "$TMP/hdr")"
}

# Writes $TMP/agg.tsv (one line per cell, fields as in summary.csv, unformatted),
# $TMP/{workloads,dists,allocs} (first-appearance order), $TMP/machine and
# OUTDIR/summary.csv. Dies when no row is valid.
aggregate() {
  tr -d '\r' < "$TMP/input.csv" | awk -F, -v tmp="$TMP" -v summary="$OUTDIR/summary.csv" '
    function isnum(x) { return x ~ /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/ }
    # Median, min and max of the n numbers in the space-separated list s.
    function stats(s,    v, n, i, j, t) {
      n = split(s, v, " ")
      for (i = 2; i <= n; i++) {            # insertion sort: a few repeats only
        t = v[i] + 0
        for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
      }
      MIN = v[1] + 0; MAX = v[n] + 0
      MED = (n % 2) ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
      return n
    }
    function num(x) { return (x == int(x)) ? sprintf("%.0f", x) : sprintf("%.2f", x) }
    function add(list, x) { return (list == "") ? x : list " " x }
    function first(kind, name) {
      if (!((kind, name) in seen)) { seen[kind, name] = 1; order[kind, ++norder[kind]] = name }
    }
    NR == 1 { ncols = NF; next }
    /^[ \t]*$/ { next }
    {
      if (NF != ncols) { bad++; if (bad <= 5) printf "plot.sh: warning: line %d: %d fields, expected %d (skipped)\n", NR, NF, ncols > "/dev/stderr"; next }
      m = $1; a = $2; st = $3; w = $4; d = $5; t = $6
      if (!isnum(t) || w == "" || d == "" || a == "") { bad++; if (bad <= 5) printf "plot.sh: warning: line %d: no workload/distribution/allocator/threads (skipped)\n", NR > "/dev/stderr"; next }
      t += 0
      k = w SUBSEP d SUBSEP t SUBSEP a
      if (!(k in cell)) { cell[k] = 1; keys[++nkeys] = k; strat[k] = st; nok[k] = 0; nfail[k] = 0 }
      if (!isnum($8) || $8 + 0 <= 0) {
        nfail[k]++; failed++
        if (failed <= 10) printf "plot.sh: warning: failed run skipped (line %d: %s %s %s threads=%s repeat=%s, ops_per_s=\"%s\")\n", NR, a, w, d, t, $7, $8 > "/dev/stderr"
        next
      }
      first("w", w); first("d", d); first("a", a)
      if (!(m in machines)) { machines[m] = 1; mlist = (mlist == "") ? m : mlist ", " m; nm++ }
      nok[k]++; valid++
      ops[k] = add(ops[k], $8 + 0)
      if (isnum($9))  p50[k]  = add(p50[k],  $9 + 0)
      if (isnum($10)) p99[k]  = add(p99[k],  $10 + 0)
      if (isnum($11)) p999[k] = add(p999[k], $11 + 0)
      if (isnum($12)) rss[k]  = add(rss[k],  $12 + 0)
      if (isnum($13)) live[k] = add(live[k], $13 + 0)
      if (isnum($12) && isnum($13) && $13 + 0 > 0) rol[k] = add(rol[k], ($12 + 0) / ($13 + 0))
      if (NF >= 24 && isnum($14) && isnum($24)) { wn[k]++; for (c = 14; c <= 25; c++) wsum[k, c] += (c <= NF && isnum($c)) ? $c : 0 }
    }
    END {
      if (bad > 5) printf "plot.sh: warning: %d malformed rows skipped in all\n", bad > "/dev/stderr"
      if (failed > 0) printf "plot.sh: warning: %d failed run(s) skipped (ops_per_s empty or 0)\n", failed > "/dev/stderr"
      if (valid == 0) { print "novalid" > (tmp "/status"); exit 0 }
      print valid > (tmp "/status")
      if (nm > 1) print "plot.sh: warning: several machines in one CSV (" mlist "): medians mix them" > "/dev/stderr"
      print mlist > (tmp "/machine")
      for (i = 1; i <= norder["w"]; i++) print order["w", i] > (tmp "/workloads")
      for (i = 1; i <= norder["d"]; i++) print order["d", i] > (tmp "/dists")
      for (i = 1; i <= norder["a"]; i++) print order["a", i] > (tmp "/allocs")
      # Medians per cell; then the jemalloc ratio.
      for (i = 1; i <= nkeys; i++) {
        k = keys[i]
        if (nok[k] == 0) continue
        stats(ops[k]); med[k] = MED; mn[k] = MIN; mx[k] = MAX
        split(k, f, SUBSEP)
        if (f[4] == "jemalloc") jem[f[1], f[2], f[3]] = MED
      }
      hdr = "machine,workload,distribution,threads,allocator,strategy,n_ok,n_failed," \
            "ops_per_s_median,ops_per_s_min,ops_per_s_max,ratio_to_jemalloc," \
            "lat_p50_ns_median,lat_p99_ns_median,lat_p999_ns_median," \
            "peak_rss_bytes_median,live_bytes_median,rss_over_live_median"
      print hdr > summary
      # Cells in workload, distribution, allocator order of appearance, threads ascending.
      for (i = 1; i <= nkeys; i++) idx[i] = i
      for (i = 2; i <= nkeys; i++) {   # sort keys by (w, d, a) first appearance, then threads
        t = idx[i]
        for (j = i - 1; j >= 1 && before(idx[j], t) == 0; j--) idx[j + 1] = idx[j]
        idx[j + 1] = t
      }
      for (ii = 1; ii <= nkeys; ii++) {
        k = keys[idx[ii]]
        split(k, f, SUBSEP); w = f[1]; d = f[2]; t = f[3]; a = f[4]
        r = ""; vm = vn = vx = q50 = q99 = q999 = vr = vl = vrol = ""
        if (nok[k] > 0) {
          vm = med[k]; vn = mn[k]; vx = mx[k]
          if ((w, d, t) in jem) r = med[k] / jem[w, d, t]
          if (p50[k]  != "") { stats(p50[k]);  q50  = MED }
          if (p99[k]  != "") { stats(p99[k]);  q99  = MED }
          if (p999[k] != "") { stats(p999[k]); q999 = MED }
          if (rss[k]  != "") { stats(rss[k]);  vr   = MED }
          if (live[k] != "") { stats(live[k]); vl   = MED }
          if (rol[k]  != "") { stats(rol[k]);  vrol = MED }
        }
        # where.tsv: w d t a rss_median, then the breakdown columns averaged over
        # the runs that have them ("-" for an allocator without)
        if (nok[k] > 0) {
          printf "%s\t%s\t%s\t%s\t%s", w, d, t, a, (vr == "" ? "-" : vr) > (tmp "/where.tsv")
          for (c = 14; c <= 25; c++) printf "\t%s", (wn[k] ? wsum[k, c] / wn[k] : "-") > (tmp "/where.tsv")
          printf "\n" > (tmp "/where.tsv")
        }
        # tab-separated, unformatted, for the figures (cells with a valid run only)
        if (nok[k] > 0)
          printf "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
            mlist, w, d, t, a, nok[k], nfail[k], vm, vn, vx, (r == "" ? "-" : r),
            (q50 == "" ? "-" : q50), (q99 == "" ? "-" : q99), (q999 == "" ? "-" : q999),
            (vr == "" ? "-" : vr), (vl == "" ? "-" : vl), (vrol == "" ? "-" : vrol),
            ((w, d, t) in jem ? jem[w, d, t] : "-") > (tmp "/agg.tsv")
        printf "%s,%s,%s,%s,%s,%s,%d,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
          csvq(mlist), w, d, t, a, strat[k], nok[k], nfail[k],
          (vm == "" ? "" : sprintf("%.1f", vm)), (vn == "" ? "" : sprintf("%.1f", vn)),
          (vx == "" ? "" : sprintf("%.1f", vx)), (r == "" ? "" : sprintf("%.4f", r)),
          (q50 == "" ? "" : num(q50)), (q99 == "" ? "" : num(q99)), (q999 == "" ? "" : num(q999)),
          (vr == "" ? "" : sprintf("%.0f", vr)), (vl == "" ? "" : sprintf("%.0f", vl)),
          (vrol == "" ? "" : sprintf("%.4f", vrol)) > summary
      }
    }
    function csvq(s) { return (s ~ /[,"]/) ? "\"" gensub_q(s) "\"" : s }
    function gensub_q(s,   o) { o = s; gsub(/"/, "\"\"", o); return o }
    # 1 when cell index x sorts before cell index y (or equal), else 0.
    function before(x, y,    fx, fy) {
      split(keys[x], fx, SUBSEP); split(keys[y], fy, SUBSEP)
      if (rank("w", fx[1]) != rank("w", fy[1])) return rank("w", fx[1]) < rank("w", fy[1])
      if (rank("d", fx[2]) != rank("d", fy[2])) return rank("d", fx[2]) < rank("d", fy[2])
      if (rank("a", fx[4]) != rank("a", fy[4])) return rank("a", fx[4]) < rank("a", fy[4])
      return fx[3] + 0 <= fy[3] + 0
    }
    # Order of first appearance among valid rows; names seen only in failed rows last.
    function rank(kind, name,    i) {
      for (i = 1; i <= norder[kind]; i++) if (order[kind, i] == name) return i
      return 1e9
    }
  '
  [ "$(cat "$TMP/status" 2>/dev/null)" != "novalid" ] && [ -s "$TMP/agg.tsv" ] ||
    die "no valid rows in '$CSV' (every run failed, or only a header)"
}

# ---------------------------------------------------------------------------
# Rendering.

WRITTEN=()

# render BASE WIDTH HEIGHT BODY_FILE: runs the gnuplot script body once per
# terminal, writing OUTDIR/BASE.svg and OUTDIR/BASE.png.
render() {
  local base=$1 w=$2 h=$3 body=$4 ext term log
  for ext in svg png; do
    if [ "$ext" = svg ]; then
      term="set terminal svg size $w,$h dynamic noenhanced font 'sans,12' name $(gq "$base") background '#ffffff'"
    else
      term="set terminal pngcairo size $w,$h noenhanced font 'sans,11' background '#ffffff'"
    fi
    log=$TMP/gnuplot.log
    if ! { echo "$term"; echo "set output $(gq "$OUTDIR/$base.$ext")"; cat "$body";
           echo "unset multiplot"; echo "set output"; } | "$GNUPLOT" > "$log" 2>&1; then
      sed 's/^/  gnuplot: /' "$log" >&2
      die "gnuplot failed on $base.$ext (script: see above)"
    fi
    [ -s "$log" ] && sed "s/^/$PROG: gnuplot ($base.$ext): /" "$log" >&2
    [ -s "$OUTDIR/$base.$ext" ] || die "gnuplot wrote nothing to $OUTDIR/$base.$ext"
    WRITTEN+=("$OUTDIR/$base.$ext")
  done
}

# Canvas for N panels: sets ROWS COLS WIDTH HEIGHT.
layout() {
  local n=$1
  if [ "$n" -le 1 ]; then ROWS=1 COLS=1
  elif [ "$n" -le 2 ]; then ROWS=1 COLS=2
  elif [ "$n" -le 4 ]; then ROWS=2 COLS=2
  elif [ "$n" -le 6 ]; then ROWS=2 COLS=3
  else COLS=3 ROWS=$(( (n + 2) / 3 )); fi
  WIDTH=$(( COLS * 650 )); HEIGHT=$(( ROWS * 480 + 90 ))
  [ "$WIDTH" -ge 1200 ] || WIDTH=1200
  [ "$HEIGHT" -ge 800 ] || HEIGHT=800
}

# The multiplot opening for workload W: "set multiplot layout ... title ...".
multiplot_open() {  # WORKLOAD WHAT
  local ndist
  ndist=$(wc -l < "$TMP/dists")
  layout "$ndist"
  echo "set multiplot layout $ROWS,$COLS title $(gq "$1: $2").\"\\n\".$(gq "machine: $MACHINE") font 'sans,15'"
}

# A panel saying there is nothing to show.
no_data_panel() {  # TITLE TEXT
  cat <<EOF
set title $(gq "$1")
unset logscale; unset key; unset border; unset xtics; unset ytics; unset x2tics; unset y2tics
set xlabel ''; set ylabel ''
set xrange [0:1]; set yrange [0:1]
set label 99 $(gq "$2") at graph 0.5,0.5 center font 'sans,14'
plot 2 notitle
unset label 99
set border; set xtics; set ytics; set autoscale
EOF
}

# Rows of agg.tsv for one workload and distribution (optionally one thread count).
cell_rows() {  # W D [THREADS]
  awk -F'\t' -v w="$1" -v d="$2" -v t="${3:-}" '$2 == w && $3 == d && (t == "" || $4 + 0 == t + 0)' "$TMP/agg.tsv"
}

# Thread counts of a workload, ascending.
threads_of() { awk -F'\t' -v w="$1" '$2 == w { print $4 + 0 }' "$TMP/agg.tsv" | sort -n -u; }

# x axis for thread counts: log2, tics at the counts present.
threads_axis() {  # W
  local ts tics lo hi
  ts=$(threads_of "$1")
  tics=$(echo "$ts" | awk '{ printf "%s\"%s\" %s", (NR > 1 ? ", " : ""), $1, $1 }')
  lo=${ts%%$'\n'*}; hi=${ts##*$'\n'} # not `echo | head`: echo may die of SIGPIPE
  cat <<EOF
set logscale x 2
set xrange [$lo/1.35:$hi*1.35]
set xtics ($tics)
set xlabel 'threads'
EOF
}

# throughput_<w> (KIND=abs) or relative_<w> (KIND=rel).
plot_lines() {  # KIND W
  local kind=$1 w=$2 d n ia a f body plots files base what
  body=$TMP/body.gp
  if [ "$kind" = abs ]; then
    base=throughput_$(fname "$w")
    what="throughput, Mops/s (alloc+free pairs), median over repeats, bars min..max"
  else
    base=relative_$(fname "$w")
    what="throughput / jemalloc throughput, same cell (medians; bars min..max)"
  fi
  {
    multiplot_open "$w" "$what"
    echo "set grid ytics lc rgb '#dddddd'"; echo "set offsets 0, 0, graph 0.06, 0"
    echo "set key top left reverse Left box opaque samplen 2"
    threads_axis "$w"
    while IFS= read -r d; do
      n=$(cell_rows "$w" "$d" | wc -l)
      if [ "$n" -eq 0 ]; then
        no_data_panel "$(dist_title "$d")" "no data for $w / $d"
        threads_axis "$w"
        continue
      fi
      plots=()
      files=()
      ia=0
      while IFS= read -r a; do
        f=$TMP/$kind.$(fname "$w").$(fname "$d").$(fname "$a").dat
        # threads y ylow yhigh, sorted by threads
        cell_rows "$w" "$d" | awk -F'\t' -v a="$a" -v kind="$kind" '$5 == a {
            if (kind == "abs") printf "%s %.6g %.6g %.6g\n", $4, $8 / 1e6, $9 / 1e6, $10 / 1e6
            else if ($18 != "-") printf "%s %.6g %.6g %.6g\n", $4, $8 / $18, $9 / $18, $10 / $18
          }' | sort -n > "$f"
        if [ -s "$f" ]; then
          files+=("$f")
          plots+=("$(gq "$f") using 1:2:3:4 with yerrorlines $(alloc_style "$a" "$ia") lw 2 ps 1.2 title $(gq "$a")")
        fi
        ia=$((ia + 1))
      done < "$TMP/allocs"
      echo "set title $(gq "$(dist_title "$d")")"
      if [ "$kind" = abs ]; then
        echo "set ylabel 'Mops/s (median over repeats)'"
        echo "set yrange [0:*]"
      elif [ "${#files[@]}" -gt 0 ] && awk '{ for (i = 2; i <= 4; i++) if ($i > 0) {
               if (lo == "" || $i < lo) lo = $i; if ($i > hi) hi = $i } }
             END { exit !(lo > 0 && hi / lo > 10) }' "${files[@]}"; then
        # (ratios over more than 10x: a linear axis would flatten the small ones)
        echo "set ylabel 'throughput / jemalloc throughput, log scale'"
        echo "set logscale y 10"
        echo "set yrange [*:*]"
      else
        echo "set ylabel 'throughput / jemalloc throughput'"
        echo "set yrange [0:*]"
      fi
      if [ "${#plots[@]}" -eq 0 ]; then
        no_data_panel "$(dist_title "$d")" "no jemalloc run to compare with"
        threads_axis "$w"
        continue
      fi
      [ "$kind" = abs ] || plots+=("1 with lines lc rgb '#000000' dt 2 lw 1 title 'jemalloc = 1.0'")
      local sep="plot "
      for f in "${plots[@]}"; do printf '%s%s' "$sep" "$f"; sep=$', \\\n     '; done
      echo
      echo "unset logscale y"
    done < "$TMP/dists"
  } > "$body"
  render "$base" "$WIDTH" "$HEIGHT" "$body"
}

# latency_<w>, memory_<w> or rss_over_live_<w>: bars per allocator at the
# largest thread count of each panel.
plot_bars() {  # KIND W
  local kind=$1 w=$2 d t f base what body ia a
  body=$TMP/body.gp
  case "$kind" in
    latency) base=latency_$(fname "$w")
             what="latency per allocator call (p50, p99, p99.9; median over repeats) at the largest thread count" ;;
    memory)  base=memory_$(fname "$w")
             what="peak RSS (MiB, median over repeats) at the largest thread count" ;;
    rol)     base=rss_over_live_$(fname "$w")
             what="peak RSS / peak live bytes requested (median over repeats) at the largest thread count" ;;
  esac
  {
    multiplot_open "$w" "$what"
    echo "set grid ytics lc rgb '#dddddd'"; echo "set offsets 0, 0, graph 0.06, 0"
    echo "set xtics rotate by -25 nomirror"
    echo "set style fill solid 0.85 border -1"
    while IFS= read -r d; do
      t=$(cell_rows "$w" "$d" | awk -F'\t' '{ print $4 + 0 }' | sort -n | tail -n 1)
      if [ -z "$t" ]; then
        no_data_panel "$(dist_title "$d")" "no data for $w / $d"
        echo "set xtics rotate by -25 nomirror"
        continue
      fi
      f=$TMP/$kind.$(fname "$w").$(fname "$d").dat
      # allocator p50 p99 p999 rss_MiB rss/live rgb, in allocator order; '-' -> NaN
      : > "$f"
      ia=0
      while IFS= read -r a; do
        cell_rows "$w" "$d" "$t" | awk -F'\t' -v a="$a" -v rgb="$(alloc_rgb "$a" "$ia")" '
          function v(x) { return (x == "-" || x + 0 <= 0) ? "NaN" : x }
          $5 == a {
            printf "\"%s\" %s %s %s %s %s 0x%s\n", a, v($12), v($13), v($14),
              ($15 == "-" ? "NaN" : $15 / 1048576), v($17), substr(rgb, 2)
          }' >> "$f"
        ia=$((ia + 1))
      done < "$TMP/allocs"
      echo "set title $(gq "$(dist_title "$d") -- $t threads")"
      case "$kind" in
        latency)
          if ! awk '$2 != "NaN" || $3 != "NaN" || $4 != "NaN" { ok = 1 } END { exit !ok }' "$f"; then
            no_data_panel "$(dist_title "$d") -- $t threads" "no latency samples"
            echo "set xtics rotate by -25 nomirror"; continue
          fi
          cat <<EOF
set logscale y 10
set yrange [*:*]
set ylabel 'latency per call (ns), log scale'
set key top left
set style data histograms
set style histogram clustered gap 1
plot $(gq "$f") using 2:xtic(1) title 'p50' lc rgb '#9ecae1', \
     '' using 3 title 'p99' lc rgb '#3182bd', \
     '' using 4 title 'p99.9' lc rgb '#08306b'
unset logscale y
EOF
          ;;
        memory|rol)
          local col=5 ylabel="peak RSS (MiB)" fmt="%.1f"
          [ "$kind" = rol ] && col=6 ylabel="peak RSS / peak live bytes" fmt="%.2f"
          if ! awk -v c="$col" '$c != "NaN" { ok = 1 } END { exit !ok }' "$f"; then
            no_data_panel "$(dist_title "$d") -- $t threads" "no memory figures"
            echo "set xtics rotate by -25 nomirror"; continue
          fi
          cat <<EOF
set style data boxes
set boxwidth 0.6
unset key
set ylabel '$ylabel'
set xrange [-0.6:*]
set yrange [0:*]
plot $(gq "$f") using 0:$col:7:xtic(1) with boxes lc rgb variable notitle, \
     '' using 0:$col:(sprintf('$fmt', \$$col)) with labels offset 0,0.7 notitle
set xrange [*:*]
EOF
          ;;
      esac
    done < "$TMP/dists"
  } > "$body"
  render "$base" "$WIDTH" "$HEIGHT" "$body"
}

# where_<w>: npool's peak RSS split by where its bytes were (the sweep's
# breakdown columns, averaged over repeats), stacked, beside the peers' peak
# RSS, at the largest thread count of each panel. Only for runs that have
# the columns.
plot_where() {  # W
  local w=$1 d t f body base a
  body=$TMP/body.gp
  base=where_$(fname "$w")
  awk -F'\t' -v w="$w" '$1 == w && $6 != "-" { ok = 1 } END { exit !ok }' "$TMP/where.tsv" || return 0
  {
    multiplot_open "$w" "peak RSS (MiB): npool's by where its bytes were, the peers' whole; largest thread count"
    echo "set grid ytics lc rgb '#dddddd'"
    echo "set xtics rotate by -25 nomirror"
    echo "set style fill solid 0.85 border -1"
    while IFS= read -r d; do
      t=$(awk -F'\t' -v w="$w" -v d="$d" '$1 == w && $2 == d { print $3 + 0 }' "$TMP/where.tsv" | sort -n | tail -n 1)
      if [ -z "$t" ]; then
        no_data_panel "$(dist_title "$d")" "no data for $w / $d"
        echo "set xtics rotate by -25 nomirror"
        continue
      fi
      f=$TMP/where.$(fname "$w").$(fname "$d").dat
      # allocator, then MiB: active, thread caches + remote, CPU + transfer caches,
      # free in subpages, free pages resident, retained, metadata, past reused huge
      # blocks, the rest of the peak RSS, a peer's RSS
      : > "$f"
      while IFS= read -r a; do
        awk -F'\t' -v w="$w" -v d="$d" -v t="$t" -v a="$a" '
          $1 == w && $2 == d && $3 + 0 == t + 0 && $4 == a {
            m = 1048576; rss = ($5 == "-") ? 0 : $5
            if ($6 == "-") { printf "\"%s\" 0 0 0 0 0 0 0 0 0 %.3f\n", a, rss / m; next }
            part[1] = $6; part[2] = $7 + $8; part[3] = $9 + $10; part[4] = $11; part[5] = $12
            part[6] = $14; part[7] = $15; part[8] = $17
            s = 0; for (i = 1; i <= 8; i++) s += part[i]
            rest = rss - s; if (rest < 0) rest = 0
            printf "\"%s\"", a
            for (i = 1; i <= 8; i++) printf " %.3f", part[i] / m
            printf " %.3f 0\n", rest / m
          }' "$TMP/where.tsv" >> "$f"
      done < "$TMP/allocs"
      cat <<EOF
set title $(gq "$(dist_title "$d") -- $t threads")
set style data histograms
set style histogram rowstacked
set boxwidth 0.7
set key top left font 'sans,9' maxrows 5 opaque
set ylabel 'MiB at the peak'
set yrange [0:*]
plot $(gq "$f") using 2:xtic(1) title 'active (handed out)' lc rgb '#2166ac', \\
     '' using 3 title 'thread caches + remote' lc rgb '#67a9cf', \\
     '' using 4 title 'CPU + transfer caches' lc rgb '#d1e5f0', \\
     '' using 5 title 'free in subpages' lc rgb '#fddbc7', \\
     '' using 6 title 'free pages, resident' lc rgb '#ef8a62', \\
     '' using 7 title 'retained chunks' lc rgb '#b2182b', \\
     '' using 8 title 'metadata' lc rgb '#762a83', \\
     '' using 9 title 'past reused huge blocks' lc rgb '#e7d4e8', \\
     '' using 10 title 'rest of the RSS' lc rgb '#bbbbbb', \\
     '' using 11 title 'peer: whole RSS' lc rgb '#555555'
EOF
    done < "$TMP/dists"
  } > "$body"
  render "$base" "$WIDTH" "$HEIGHT" "$body"
}

# rss_<workload>_<dist>: the resident set over time of the first repeat of
# each allocator (the sweep's rss/ folder beside the CSV), at the largest
# thread count traced, and the live bytes of the first allocator's run.
plot_rss_traces() {
  local dir key t body base a f ia first plots sep
  dir=$(dirname -- "$CSV")/rss
  [ -d "$dir" ] || return 0
  body=$TMP/body.gp
  for key in $(ls -- "$dir" | sed -n 's/^\([a-z0-9]*_[a-z0-9]*\)_[0-9]*_.*\.tsv$/\1/p' | sort -u); do
    t=$(ls -- "$dir" | sed -n "s/^${key}_\\([0-9]*\\)_.*\\.tsv\$/\\1/p" | sort -n | tail -n 1)
    base=rss_$(fname "$key")
    plots=()
    first=""
    ia=0
    while IFS= read -r a; do
      f=$dir/${key}_${t}_$a.tsv
      if [ -s "$f" ]; then
        plots+=("$(gq "$f") using 1:(\$2/1048576) with lines $(alloc_style "$a" "$ia") lw 2 title $(gq "$a")")
        [ -n "$first" ] || first=$a
      fi
      ia=$((ia + 1))
    done < "$TMP/allocs"
    [ "${#plots[@]}" -gt 0 ] || continue
    plots+=("$(gq "$dir/${key}_${t}_$first.tsv") using 1:(\$3/1048576) with lines lc rgb '#000000' dt 2 lw 1 title $(gq "live bytes ($first)")")
    {
      echo "set title $(gq "${key/_/ }, $t threads: resident set over time, first repeat").\"\\n\".$(gq "machine: $MACHINE") font 'sans,14'"
      echo "set grid lc rgb '#dddddd'"
      echo "set key top left reverse Left box opaque samplen 2"
      echo "set xlabel 'ms since the threads started (warm-up, then the timed window)'"
      echo "set ylabel 'MiB'"
      echo "set yrange [0:*]"
      sep="plot "
      for f in "${plots[@]}"; do printf '%s%s' "$sep" "$f"; sep=$', \\\n     '; done
      echo
    } > "$body"
    render "$base" 1200 700 "$body"
  done
}

# ---------------------------------------------------------------------------

main() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/npool-plot.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  check_input "$@"
  mkdir -p "$OUTDIR" || die "cannot create OUTDIR '$OUTDIR'"
  [ -w "$OUTDIR" ] || die "cannot write to OUTDIR '$OUTDIR'"
  aggregate
  MACHINE=$(cat "$TMP/machine")
  local w have_jem=1
  grep -qx jemalloc "$TMP/allocs" || { have_jem=0; warn "no jemalloc rows: relative_<workload> figures skipped"; }
  while IFS= read -r w; do
    plot_lines abs "$w"
    if [ "$have_jem" = 1 ]; then plot_lines rel "$w"; fi
    plot_bars latency "$w"
    plot_bars memory "$w"
    plot_bars rol "$w"
    plot_where "$w"
  done < "$TMP/workloads"
  plot_rss_traces
  WRITTEN+=("$OUTDIR/summary.csv")
  printf '%s\n' "${WRITTEN[@]}"
}

main "$@"
