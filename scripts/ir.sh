#!/bin/bash
# ir.sh BIN 'BenchRegex$' [N]: the instructions one iteration of a
# benchmark takes, by callgrind, which a noisy host cannot skew: the
# difference between N and 2N iterations, over N. BIN is a test binary
# (go test -c -o BIN ./pkg). Pick N so that 2N iterations fit the
# benchmark's channel, or the refills are counted too. GOMAXPROCS=1:
# with more, the runtime's idle threads spin under valgrind and swamp
# the counts. Needs valgrind.
set -eu
bin=$1 re=$2 n=${3:-6000}
run() {
  GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" -test.run '^$' -test.bench "$re" -test.benchtime "${1}x" -test.count 1 -test.cpu 1 2>&1 |
    awk '/Collected/ {print $4}'
}
a=$(run "$n")
b=$(run $((2 * n)))
echo "$re: $(((b - a) / n)) instructions an iteration (N=$n: $a, 2N: $b)"
