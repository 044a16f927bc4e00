#!/usr/bin/env bash
# Save → verdict, backlings against rustlings 6, on the same rustlings-format exercise, warm.
#
# Both tools run the whole pipeline of one solved exercise after each simulated save (a comment appended, so cargo
# really recompiles): rustlings `run` does cargo build, cargo test and cargo clippy in sequence; backlings `run`
# does its compile, tests and clippy stages. Usage:
#   bench/compare-rustlings.sh [RUNS] [EXERCISE]     (default: 10 runs of `if1`, which has tests)
# Set RUSTLINGS=/path/to/rustlings to use an installed binary; otherwise rustlings 6.5.0 is installed from
# crates.io into a temp dir (a few minutes, once).
set -euo pipefail
runs=${1:-10}
exercise=${2:-if1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rustlings=${RUSTLINGS:-$(command -v rustlings || true)}
if [ -z "$rustlings" ]; then
  echo "installing rustlings 6.5.0 (once)…" >&2
  cargo install -q rustlings --version 6.5.0 --locked --root "$work/tools"
  rustlings="$work/tools/bin/rustlings"
fi
(cd "$root" && cargo build -q -p backlings)
backlings="${CARGO_TARGET_DIR:-$root/target}/debug/backlings"

course="$work/course"
cp -r "$root/checker/tests/fixtures/rustlings" "$course"
file=$(cd "$course" && ls exercises/*/"$exercise".rs)
cp "$course/solutions/${file#exercises/}" "$course/$file"

# time_runs TOOL ARGS...: prints one duration in ms per run, after one warm-up run.
time_runs() {
  for i in $(seq 0 "$runs"); do
    echo "// save $i" >> "$course/$file"
    start=$(date +%s%N)
    (cd "$course" && "$@" >/dev/null 2>&1 </dev/null) || { echo "error: $* failed on a solved exercise" >&2; exit 1; }
    end=$(date +%s%N)
    [ "$i" -gt 0 ] && echo $(( (end - start) / 1000000 ))
  done
}

summary() {
  sort -n | awk '{ a[NR] = $1 } END { p50 = a[int((NR + 1) / 2)]; i95 = int(NR * 0.95 + 0.999); if (i95 < 1) i95 = 1; printf "p50 %d ms, p95 %d ms (%d runs)\n", p50, a[i95], NR }'
}

echo "exercise \`$exercise\`, warm, save → verdict:"
printf '  rustlings 6.5 run:  '; time_runs "$rustlings" run "$exercise" | summary
printf '  backlings run:      '; time_runs "$backlings" run "$exercise" --color never | summary
