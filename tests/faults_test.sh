#!/bin/sh
# tests/faults_test.sh CLI NPY_GEN MPI_TOOL TRAIN WORKDIR - runs that fail
# from the outside (make test-faults, part of make test):
#   1. SIGINT to the CLI after its first output's temp file is complete
#      (HR_CLI_FAULT=written) and SIGTERM during its compute: it dies of the
#      signal, no temp file is left, the older outputs are intact;
#   2. a full disk (a 16 KiB tmpfs, in a mount namespace: root, or an
#      unprivileged user namespace): the CLI and the trainer's checkpoint say
#      "No space left on device", exit 1, leave no temp file, and the older
#      output / checkpoint is intact;
#   3. an MPI rank killed (SIGKILL) in the middle of the ring
#      (HR_CLI_FAULT=ring on the last rank): the run ends non-zero within
#      the timeout, rank 0's temp files are gone, the older outputs intact.
#   4. the trainer SIGKILLed at 8 points spread over a run (5% to 99% of its
#      timed length) that resumes one checkpoint and saves over it: each time, --resume of what is on disk
#      succeeds (the old checkpoint or the complete new one: temp + fsync +
#      rename; a kill rarely lands inside the short write itself, which the
#      full-disk case above fails on purpose).
# W is FAULTS_N x FAULTS_D (default 3000 x 64; make test-soak: 100000 x 512,
# the same checks at scale).
set -u
CLI=$1 GEN=$2 MPI=$3 TRAIN=$4 DIR=$5
fail=0 n=0
ok()  { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL: $*"; }
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
olds() { for f in "$@"; do printf 'old' >"$f"; done; }
intact() { for f in "$@"; do [ "$(cat "$f")" = old ] || return 1; done; }
tmps() { ls "$1" | grep -c '\.tmp' ; }

"$GEN" --seed 3 "${FAULTS_N:-3000}" "${FAULTS_D:-64}" "$DIR/w.npy" || exit 1

# 1. signals ------------------------------------------------------------------
mkdir -p "$DIR/sig"
olds "$DIR/sig/o.difficulty.npy" "$DIR/sig/o.nearest.npy"
HR_CLI_FAULT=written "$CLI" -q --prefix "$DIR/sig/o" "$DIR/w.npy" 2>"$DIR/sig.err"; rc=$?
if [ $rc = 130 ] && [ "$(tmps "$DIR/sig")" = 0 ] && intact "$DIR/sig/o.difficulty.npy" "$DIR/sig/o.nearest.npy"
then ok; else bad "SIGINT while writing: rc $rc (want 130), temp files $(tmps "$DIR/sig"), outputs $(cat "$DIR/sig/o.difficulty.npy" | head -c 8)"; fi
"$GEN" --seed 4 60000 256 "$DIR/big.npy" || exit 1
"$CLI" -q --prefix "$DIR/sig/o" "$DIR/big.npy" 2>/dev/null & pid=$!
sleep 1
{ kill -TERM $pid; wait $pid; } 2>/dev/null; rc=$?  # (not the shell's "Terminated")
if [ $rc = 143 ] && [ "$(tmps "$DIR/sig")" = 0 ] && intact "$DIR/sig/o.difficulty.npy" "$DIR/sig/o.nearest.npy"
then ok; else bad "SIGTERM during the compute: rc $rc (want 143; 0: it finished within 1 s), temp files $(tmps "$DIR/sig")"; fi
rm -f "$DIR/big.npy"

# 2. a full disk ----------------------------------------------------------------
ns=""
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then ns="unshare -m"
elif unshare -rm true 2>/dev/null; then ns="unshare -rm"; fi
if [ -z "$ns" ]; then
    sh scripts/missing.sh "a mount namespace (the full-disk tests)" "run as root, or enable unprivileged user namespaces" || fail=$((fail + 1))
else
    mkdir -p "$DIR/disk"
    cp "$DIR/w.npy" "$DIR/disk.w.npy"
    # inside the namespace: a 16 KiB tmpfs on DIR/disk, the older outputs in
    # it, then the run; its stderr and what is left are copied out
    $ns sh -c '
        d=$1 cli=$2 train=$3
        mount -t tmpfs -o size=16k none "$d/disk" || exit 99
        printf old >"$d/disk/o.difficulty.npy"; printf old >"$d/disk/o.nearest.npy"
        "$cli" -q --prefix "$d/disk/o" "$d/disk.w.npy" 2>"$d/disk_cli.err"; echo $? >"$d/disk_cli.rc"
        ls "$d/disk" >"$d/disk_cli.ls"; cat "$d/disk/o.difficulty.npy" "$d/disk/o.nearest.npy" >"$d/disk_cli.old"
        rm -f "$d"/disk/*
        printf old >"$d/disk/t.ckpt"
        # the embedding net and its optimizer state: far more than 16 KiB
        "$train" --ids-train 24 --ids-test 12 --imgs 8 --distractors 10 --P 6 --K 4 --quiet \
            --steps 2 --save "$d/disk/t.ckpt" >/dev/null 2>"$d/disk_train.err"; echo $? >"$d/disk_train.rc"
        ls "$d/disk" >"$d/disk_train.ls"; cat "$d/disk/t.ckpt" >"$d/disk_train.old"
        umount "$d/disk"
    ' sh "$DIR" "$CLI" "$TRAIN"
    if [ $? = 99 ]; then bad "could not mount a tmpfs in the namespace"
    else
        if [ "$(cat "$DIR/disk_cli.rc")" = 1 ] && grep -q "^hardreid-difficulty: .*writing .*o\.difficulty\.npy failed: No space left on device" "$DIR/disk_cli.err" &&
           [ "$(wc -l <"$DIR/disk_cli.err")" = 1 ] && ! grep -q tmp "$DIR/disk_cli.ls" && [ "$(cat "$DIR/disk_cli.old")" = oldold ]
        then ok; else bad "CLI on a full disk: rc $(cat "$DIR/disk_cli.rc"), left: $(cat "$DIR/disk_cli.ls" | tr '\n' ' '), said: $(cat "$DIR/disk_cli.err")"; fi
        if [ "$(cat "$DIR/disk_train.rc")" = 1 ] && grep -q "^train: cannot write checkpoint .*t\.ckpt\.tmp: No space left on device" "$DIR/disk_train.err" &&
           ! grep -q tmp "$DIR/disk_train.ls" && [ "$(cat "$DIR/disk_train.old")" = old ]
        then ok; else bad "trainer checkpoint on a full disk: rc $(cat "$DIR/disk_train.rc"), left: $(cat "$DIR/disk_train.ls" | tr '\n' ' '), said: $(cat "$DIR/disk_train.err")"; fi
    fi
fi

# 3. an MPI rank killed mid-ring ------------------------------------------------
if command -v mpirun >/dev/null 2>&1; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_hwloc_base_binding_policy=none
    mkdir -p "$DIR/mpi"
    olds "$DIR/mpi/o.difficulty.npy" "$DIR/mpi/o.nearest.npy"
    for np in 3 4; do
        OMP_NUM_THREADS=1 HR_CLI_FAULT=ring timeout 600 mpirun -x HR_CLI_FAULT -np $np "$MPI" -q \
            --prefix "$DIR/mpi/o" "$DIR/w.npy" >"$DIR/mpi.out" 2>&1; rc=$?
        if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(tmps "$DIR/mpi")" = 0 ] && intact "$DIR/mpi/o.difficulty.npy" "$DIR/mpi/o.nearest.npy"
        then ok; else bad "$np ranks, the last killed mid-ring: rc $rc, temp files $(tmps "$DIR/mpi"): $(tail -3 "$DIR/mpi.out")"; fi
    done
else
    sh scripts/missing.sh "mpirun (the killed-rank test)" "apt-get install openmpi-bin" || fail=$((fail + 1))
fi

# 4. the trainer killed anywhere ------------------------------------------------
# Every run resumes the same step-2 checkpoint (restored before each) and
# saves over it at step 40; the kill times are fractions of one such run,
# timed here, so they spread over the run (and its save, at the end) on a
# fast machine as on a slow one.
tiny="--ids-train 24 --ids-test 12 --imgs 8 --distractors 10 --P 6 --K 4 --quiet --steps 40"
mkdir -p "$DIR/ck"
if "$TRAIN" $tiny --stop-at 2 --save "$DIR/ck/base.ckpt" >/dev/null 2>&1 &&
   cp "$DIR/ck/base.ckpt" "$DIR/ck/t.ckpt" && t0=$(date +%s%N) &&
   "$TRAIN" $tiny --resume "$DIR/ck/t.ckpt" --save "$DIR/ck/t.ckpt" >/dev/null 2>&1; then
    run=$(( ($(date +%s%N) - t0) / 1000 ))      # microseconds
    killed=0 torn=0
    for pct in 5 20 40 60 80 90 96 99; do
        cp "$DIR/ck/base.ckpt" "$DIR/ck/t.ckpt" || exit 1
        "$TRAIN" $tiny --resume "$DIR/ck/t.ckpt" --save "$DIR/ck/t.ckpt" >/dev/null 2>&1 & pid=$!
        sleep "$(awk "BEGIN { printf \"%.4f\", $run * $pct / 1e8 }")"
        { kill -KILL $pid && killed=$((killed + 1)); wait $pid; } 2>/dev/null
        "$TRAIN" $tiny --resume "$DIR/ck/t.ckpt" --stop-at 3 >/dev/null 2>"$DIR/ck/resume.err" ||
            torn=$((torn + 1))
    done
    if [ $torn = 0 ] && [ $killed -ge 4 ]; then ok
    else bad "trainer killed while saving: $torn of 8 checkpoints not resumable ($killed runs killed, a run ${run} us): $(head -1 "$DIR/ck/resume.err")"; fi
else
    bad "trainer: the first checkpoint, or a run resumed from it"
fi

if [ $fail = 0 ]; then echo "fault tests: $n passed"; exit 0; fi
echo "fault tests: $fail of $n FAILED"; exit 1
