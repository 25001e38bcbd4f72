#!/bin/sh
# python/install_matrix.sh DIR - pip install . and pip install -e ., each with
# and without build isolation, every one into its own venv under DIR (Debian's
# python3 with --system-site-packages: numpy, torch and pytest from Debian),
# then the package's tests from outside the source tree. Isolated builds
# fetch setuptools and wheel from the package index: skipped (and said so)
# when none answers. Nothing is installed into the system.
set -eu
dir=$1
py=${PYTHON:-/usr/bin/python3}
root=$(pwd)
rm -rf "$dir" && mkdir -p "$dir"
index=1
"$py" -m pip download -q --no-deps -d "$dir/probe" setuptools >/dev/null 2>&1 || index=0
fail=0
for mode in no-isolation-install no-isolation-editable isolated-install isolated-editable; do
    case $mode in
    no-isolation-*) flags="--no-build-isolation --no-index" ;;
    *) [ $index = 1 ] || { echo "  $mode: SKIPPED (no package index answers pip download)"; continue; }
       flags="" ;;
    esac
    case $mode in *-editable) target="-e ." ;; *) target="." ;; esac
    venv=$dir/$mode
    start=$(date +%s)
    "$py" -m venv --system-site-packages "$venv"
    if ! HARDREID_BUILD_DIR="$dir/setuptools-$mode" "$venv/bin/pip" install -q --disable-pip-version-check \
            $flags $target >"$dir/$mode.log" 2>&1; then
        echo "  $mode: FAILED: pip install $flags $target (log: $dir/$mode.log)"; tail -20 "$dir/$mode.log"
        fail=1; continue
    fi
    if (cd "$venv" && env -u HARDREID_LIB ./bin/python -m pytest -q -p no:cacheprovider \
            "$root/python/tests" >>"$dir/$mode.log" 2>&1); then
        echo "  $mode: ok ($(tail -1 "$dir/$mode.log" | tr -d '=')) in $(( $(date +%s) - start )) s"
    else
        echo "  $mode: FAILED: pytest (log: $dir/$mode.log)"; tail -30 "$dir/$mode.log"; fail=1
    fi
done
exit $fail
