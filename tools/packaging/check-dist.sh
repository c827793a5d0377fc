#!/usr/bin/env bash
# The published case, checked on a wheelhouse built by `make dist`: a wheel and an sdist of each of the five
# packages, one version, siblings pinned to it (no path from the checkout left in any metadata), and a fresh
# venv outside the checkout installs the collector with its sibling from the wheelhouse and the index alone.
set -euo pipefail
dist=$(cd "${1:-dist}" && pwd)
names=(sharelm_collection sharedllm crosslm sharelm_collector sharedllm_chat)
versions=()
for n in "${names[@]}"; do
  whl=$(ls "$dist"/"$n"-*.whl) && sdist=$(ls "$dist"/"$n"-*.tar.gz) || { echo "missing wheel or sdist of $n" >&2; exit 1; }
  v=${whl#"$dist/$n-"}; versions+=("${v%%-*}")
  meta=$(unzip -p "$whl" '*.dist-info/METADATA'; tar xzf "$sdist" -O --wildcards '*/PKG-INFO')
  if grep -E '^Requires-Dist: .*(@ |file:)' <<<"$meta"; then echo "$n: a requirement names a path" >&2; exit 1; fi
done
[ "$(printf '%s\n' "${versions[@]}" | sort -u | wc -l)" = 1 ] || { echo "versions differ: ${versions[*]}" >&2; exit 1; }
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
(cd "$(dirname "$venv")" && "$venv/bin/pip" install -q --find-links "$dist" "sharelm-collector==${versions[0]}" >install.log 2>&1) \
  || { tail -30 "$(dirname "$venv")/install.log" >&2; exit 1; }
"$venv/bin/sharelm-collector" --help >/dev/null
# Heavy libraries only behind extras: the collector alone brings no pyarrow/pandas, and its export says so.
"$venv/bin/python" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('pyarrow', 'pandas')))" \
  || { echo "sharelm-collector pulled pyarrow or pandas without the [export] extra" >&2; exit 1; }
if msg=$(cd "$(dirname "$venv")" && "$venv/bin/sharelm-collector" export x.parquet 2>&1); then
  echo "export to parquet without the [export] extra should fail" >&2; exit 1
fi
grep -q '\[export\] extra' <<<"$msg" || { echo "unexpected export message: $msg" >&2; exit 1; }
"$venv/bin/python" -c "import sharelm, sharelm_collector; print('wheelhouse install ok:', sharelm.__file__)"
rm -rf "$(dirname "$venv")"
echo "dist ok: ${#names[@]} packages at ${versions[0]}, siblings pinned"
