#!/usr/bin/env bash
# One package as a new user gets it: a fresh venv, `pip install torch==2.13.0` where the package needs torch,
# one `pip install "./PATH[test]"` that pulls its sibling packages itself, then its tests alone, failing on any
# warning about pytest options or plugins the package does not bring. Usage: tools/packaging/test-alone.sh PATH
# [EXTRAS]: EXTRAS (comma-separated, e.g. `fast`) are installed with `test`, in their own venv (.venvs/NAME-EXTRAS).
set -euo pipefail
cd "$(dirname "$0")/../.."
path=${1%/}
extras=${2:-}
venv=.venvs/$(basename "$path")${extras:+-${extras//,/-}}
log=$venv.install.log
rm -rf "$venv" && mkdir -p .venvs
python3 -m venv "$venv"
step() {  # quiet on success; the log's tail on failure
  echo "[$path] $*"
  "$@" >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
}
# --no-compile: byte-compiling every installed file (torch alone: ~20 s of 29) is left to the imports that
# need it; CI pays it for seven venvs otherwise.
grep -q '"torch' "$path/pyproject.toml" && step "$venv/bin/pip" install --no-compile torch==2.13.0
step "$venv/bin/pip" install --no-compile "./$path[test${extras:+,$extras}]"
echo "[$path${extras:+ with $extras}] pytest $path"
"$venv/bin/python" -m pytest "$path" -q -W error::pytest.PytestConfigWarning -p no:cacheprovider
