#!/usr/bin/env bash
# Wall time of a full gradient check of a depth-4 width-128 network (double, batch 32, ReLU +
# sigmoid/BCE) at 1 and 2 MPI ranks × 1 thread, and the speed-up (target: ≥ 1.85× on 2 cores).
# The two rank counts alternate, REPS rounds, so that a change of machine load hits both alike.
# Also the CPU-time speed-up, (1-rank CPU time) / (largest rank's CPU time): what the sharding gives
# when each rank has a core to itself, readable even on a loaded machine (where the kernel's
# per-session fair share, autogroup, lets both ranks together get no more CPU than one).
#   bench/mpi/time_gradcheck.sh [build-dir] [rounds] [repetitions]   (default build/mpi, 3, 3)
set -euo pipefail
build=${1:-build/mpi}
rounds=${2:-3}
repetitions=${3:-3}
bench="$build/bench/bench_gradcheck_mpi"
[[ -x "$bench" ]] || { echo "no $bench: configure with -DMLPKIT_WITH_MPI=ON and build bench_gradcheck_mpi" >&2; exit 1; }
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 0; round < rounds; ++round)); do
  for np in 1 2; do
    mpirun --oversubscribe --allow-run-as-root -np "$np" --bind-to none "$bench" --repetitions "$repetitions" | tee -a "$log"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
walls() { sed -n "s/^ranks $1 threads 1 .*: wall \([0-9.]*\) s.*/\1/p" "$log"; }
cpus() { sed -n "s/^ranks $1 threads 1 .*cpu max \([0-9.]*\) s.*/\1/p" "$log"; }
one=$(walls 1 | median)
two=$(walls 2 | median)
cpu_one=$(cpus 1 | median)
cpu_two=$(cpus 2 | median)
echo "1 rank : wall median $one s of $(walls 1 | tr '\n' ' '); cpu median $cpu_one s"
echo "2 ranks: wall median $two s of $(walls 2 | tr '\n' ' '); largest rank's cpu median $cpu_two s"
awk -v a="$one" -v b="$two" -v c="$cpu_one" -v d="$cpu_two" 'BEGIN {
  printf "speed-up 2 ranks vs 1: wall %.2fx, cpu %.2fx (target >= 1.85x)\n", a / b, c / d }'
