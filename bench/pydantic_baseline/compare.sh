#!/usr/bin/env bash
# Side-by-side: `speechops validate` vs the pydantic v2 + PyYAML baseline (validate.py).
#
# Usage: bench/pydantic_baseline/compare.sh [SPEECHOPS_BIN] [SPEC_DIR]
#   SPEECHOPS_BIN  default: target/release/speechops (relative to the repo root)
#   SPEC_DIR       default: /tmp/bench-rules
#                  (cargo run --release --example gen_specs -- /tmp/bench-rules 10000 20)
# Environment:
#   RUNS=5                 runs of each tool, alternating speechops / pydantic
#   PYD_VENV=target/pyd-venv  venv for the baseline; created and filled from
#                          requirements.txt if it has no python yet
#   PYTHON=python3         interpreter used to create the venv
#
# Each run is timed with /usr/bin/time -f "%e %M" (wall seconds, peak RSS in KiB).
# The ratio is pydantic median wall / speechops median wall.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

bin="${1:-target/release/speechops}"
dir="${2:-/tmp/bench-rules}"
runs="${RUNS:-5}"
venv="${PYD_VENV:-target/pyd-venv}"
python="${PYTHON:-python3}"

[[ -x "$bin" ]] || { echo "compare.sh: no executable at $bin (cargo build --release)" >&2; exit 1; }
[[ -d "$dir" ]] || { echo "compare.sh: no spec dir $dir (see the header for gen_specs)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "compare.sh: /usr/bin/time (GNU time) is required" >&2; exit 1; }

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating venv $venv ..." >&2
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi
py="$venv/bin/python"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# timed OUT_PREFIX CMD...: runs CMD, leaves "wall rss_kib" in OUT_PREFIX.time and its
# stdout in OUT_PREFIX.out; returns CMD's exit status.
timed() {
    local out="$1"; shift
    local rc=0
    /usr/bin/time -f "%e %M" -o "$out.time" "$@" > "$out.out" || rc=$?
    # GNU time prefixes "Command exited with non-zero status N" on failure.
    tail -n 1 "$out.time" > "$out.t" && mv "$out.t" "$out.time"
    return "$rc"
}

echo "speechops: $bin"
echo "baseline:  $($py -c 'import sys, pydantic, yaml; print("Python", sys.version.split()[0], "| pydantic", pydantic.VERSION, "| PyYAML", yaml.__version__, "| loader", "CSafeLoader" if hasattr(yaml, "CSafeLoader") else "SafeLoader")')"
echo "spec dir:  $dir ($(find "$dir" -type f \( -name '*.yaml' -o -name '*.yml' \) | wc -l) files)"
echo "machine:   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

printf '%-4s  %12s %12s  %12s %12s  %s\n' run "so wall s" "so RSS MB" "pyd wall s" "pyd RSS MB" "validate.py says"
for ((i = 1; i <= runs; i++)); do
    so_rc=0; py_rc=0
    timed "$tmp/so$i" "$bin" validate --dir "$dir" --no-color || so_rc=$?
    timed "$tmp/py$i" "$py" "$here/validate.py" "$dir" || py_rc=$?
    read -r so_wall so_rss < "$tmp/so$i.time"
    read -r py_wall py_rss < "$tmp/py$i.time"
    echo "$so_wall" >> "$tmp/so_wall"; echo "$so_rss" >> "$tmp/so_rss"
    echo "$py_wall" >> "$tmp/py_wall"; echo "$py_rss" >> "$tmp/py_rss"
    note="$(tail -n 1 "$tmp/py$i.out")"
    [[ $so_rc -eq 0 ]] || note="$note  (speechops exit $so_rc: tree not valid?)"
    [[ $py_rc -eq 0 ]] || note="$note  (validate.py exit $py_rc)"
    printf '%-4s  %12s %12.1f  %12s %12.1f  %s\n' "$i" "$so_wall" "$(echo "$so_rss" | awk '{print $1/1024}')" \
        "$py_wall" "$(echo "$py_rss" | awk '{print $1/1024}')" "$note"
done

# stats FILE SCALE -> "min median max" (values divided by SCALE)
stats() {
    sort -g "$1" | awk -v s="$2" '{v[NR] = $1 / s}
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.2f %.2f %.2f", v[1], m, v[NR] }'
}
read -r so_wmin so_wmed so_wmax <<< "$(stats "$tmp/so_wall" 1)"
read -r py_wmin py_wmed py_wmax <<< "$(stats "$tmp/py_wall" 1)"
read -r so_rmin so_rmed so_rmax <<< "$(stats "$tmp/so_rss" 1024)"
read -r py_rmin py_rmed py_rmax <<< "$(stats "$tmp/py_rss" 1024)"

echo
printf '%-22s %8s %8s %8s\n' "" min median max
printf '%-22s %8s %8s %8s\n' "speechops wall s" "$so_wmin" "$so_wmed" "$so_wmax"
printf '%-22s %8s %8s %8s\n' "pydantic  wall s" "$py_wmin" "$py_wmed" "$py_wmax"
printf '%-22s %8s %8s %8s\n' "speechops peak RSS MB" "$so_rmin" "$so_rmed" "$so_rmax"
printf '%-22s %8s %8s %8s\n' "pydantic  peak RSS MB" "$py_rmin" "$py_rmed" "$py_rmax"
echo
awk -v p="$py_wmed" -v s="$so_wmed" -v pr="$py_rmed" -v sr="$so_rmed" 'BEGIN {
    if (s > 0) printf "ratio (pydantic median wall / speechops median wall): %.1fx\n", p / s
    else print "ratio: speechops median wall rounds to 0.00 s"
    if (sr > 0) printf "peak RSS ratio (pydantic / speechops, medians):        %.1fx\n", pr / sr
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
