#!/usr/bin/env bash
# Internet Explorer 11 gates for the static assets. Run from the repository root:
#   bash tools/ie11-gates.sh
# (a) our own JavaScript (everything under static/ but static/vendor/) parses as ES5 and uses
#     no ES2015+ built-ins (es-check es5 --checkFeatures);
# (b) our own CSS has nothing that doiuse reports for "ie 11" (doiuse exits 0 even when it
#     reports, so any output at all is a failure);
# (c) static/vendor/htmx-1.9.12.min.js is byte-identical to htmx.org 1.9.12's dist/htmx.min.js.
# The tools are the exact devDependencies of package.json / package-lock.json.
set -euo pipefail

# htmx.org@1.9.12, package/dist/htmx.min.js
HTMX_FILE="static/vendor/htmx-1.9.12.min.js"
HTMX_SHA256="449317ade7881e949510db614991e195c3a099c4c791c24dacec55f9f4a2a452"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ -f package.json && -d static ]] || fail "run from the repository root (no package.json or static/ here: $PWD)"

if [[ ! -x node_modules/.bin/es-check || ! -x node_modules/.bin/doiuse ]]; then
  command -v npm >/dev/null 2>&1 || fail "npm is not installed; the IE11 gates need Node.js and npm"
  echo "node_modules is missing or incomplete: npm ci --no-audit --no-fund"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Our own files, vendored code excluded.
mapfile -t own_js < <(find static -type f -name '*.js' -not -path 'static/vendor/*' | LC_ALL=C sort)
mapfile -t own_css < <(find static -type f -name '*.css' -not -path 'static/vendor/*' | LC_ALL=C sort)

# (a) ES5
(( ${#own_js[@]} > 0 )) || fail "es5: no JavaScript of our own found under static/"
if ! es_out=$(npx --no-install es-check es5 --checkFeatures --noColor "${own_js[@]}" 2>&1); then
  printf '%s\n' "$es_out" >&2
  fail "es5: ES2015+ syntax or built-ins in ${own_js[*]} (Internet Explorer 11 runs ES5 only)"
fi
echo "ok: es5 (${#own_js[@]} file(s): ${own_js[*]})"

# (b) IE11-safe CSS
(( ${#own_css[@]} > 0 )) || fail "css: no CSS of our own found under static/"
css_findings=0
for css in "${own_css[@]}"; do
  if ! out=$(npx --no-install doiuse -b "ie 11" "$css" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "css: doiuse could not check $css"
  fi
  if [[ -n "$out" ]]; then
    printf '%s\n' "$out" >&2
    css_findings=1
  fi
done
(( css_findings == 0 )) || fail "css: doiuse reports features Internet Explorer 11 lacks or only partly supports (listed above)"
echo "ok: css for ie 11 (${#own_css[@]} file(s): ${own_css[*]})"

# (c) pinned htmx
[[ -f "$HTMX_FILE" ]] || fail "htmx: $HTMX_FILE is missing"
actual=$(sha256sum "$HTMX_FILE" | cut -d' ' -f1)
[[ "$actual" == "$HTMX_SHA256" ]] \
  || fail "htmx: $HTMX_FILE has sha256 $actual, expected $HTMX_SHA256 (htmx.org 1.9.12 dist/htmx.min.js)"
echo "ok: htmx 1.9.12 sha256 $HTMX_SHA256"
