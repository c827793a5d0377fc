#!/usr/bin/env bash
# One package as a new user gets it: a fresh venv, `pip install torch==2.13.0` where the package needs torch,
# one `pip install "./PATH[test]"` that pulls its sibling packages itself, then its tests alone, failing on any
# warning about pytest options or plugins the package does not bring. Usage: tools/packaging/test-alone.sh PATH
set -euo pipefail
cd "$(dirname "$0")/../.."
path=${1%/}
venv=.venvs/$(basename "$path")
log=$venv.install.log
rm -rf "$venv" && mkdir -p .venvs
python3 -m venv "$venv"
step() {  # quiet on success; the log's tail on failure
  echo "[$path] $*"
  "$@" >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
}
grep -q '"torch' "$path/pyproject.toml" && step "$venv/bin/pip" install torch==2.13.0
step "$venv/bin/pip" install "./$path[test]"
echo "[$path] pytest $path"
"$venv/bin/python" -m pytest "$path" -q -W error::pytest.PytestConfigWarning -p no:cacheprovider
