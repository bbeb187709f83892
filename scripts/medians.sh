#!/bin/bash
# medians.sh: reads go test -bench output (several -count runs) and
# prints each benchmark's median ns/op, its range and the number of runs.
#   go test -run '^$' -bench Claim -count 8 ./domain | scripts/medians.sh
grep -E '^Benchmark' | awk '{v[$1] = v[$1] " " $3} END {for (k in v) print k, v[k]}' | sort |
  while read -r name runs; do
    echo "$name $(echo "$runs" | tr ' ' '\n' | sort -g | awk '{a[NR] = $1}
      END {printf "median %.2f  range %.2f-%.2f  n=%d", (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2, a[1], a[NR], NR}')"
  done
