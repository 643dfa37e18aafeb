#!/usr/bin/env bash
# The HTML reports in a real browser (Debian's chromium, headless): encore-inspect attention and
# encore-analyze --html must render with their script run. For each page the rendered DOM
# (--dump-dom, after the page's script) must report the expected number of drawn figures and
# hold the expected number of heatmaps, and a screenshot must be much more than a blank page.
# Exit 77 (ctest SKIP_RETURN_CODE) when chromium is not installed (tools/install-deps.sh --browser),
# unless ENCORE_REQUIRE_BROWSER=1.
set -u
convert="$1"; inspect="$2"; analyze="$3"; fixtures="$4"
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  # CI's browser stage sets ENCORE_REQUIRE_BROWSER=1: there a missing browser is a failure.
  if [[ "${ENCORE_REQUIRE_BROWSER:-}" == 1 ]]; then echo "FAIL: chromium is not installed"; exit 1; fi
  echo "SKIP: chromium is not installed (tools/install-deps.sh --browser)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# Headless, offline, with a throwaway profile; the sandbox needs privileges CI containers lack.
chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir="$tmp/profile" \
    --virtual-time-budget=5000 "$@" 2>>"$tmp/browser.log"
}
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

fx="$fixtures/tiny_cls"
"$convert" "$fx" -o "$tmp/m.encore" --calib "$fx/calib_ids.npy" >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
"$inspect" attention "$tmp/m.encore" --text "hello world" -o "$tmp/attention.html" 2>/dev/null || fail "inspect attention"
printf 'a cat saw the dog\tcat\tdog\tsaw\nthe dog saw a cat\tcat\tdog\tsaw\n' >"$tmp/probe.tsv"
"$analyze" "$tmp/m.encore" --eval "$fx/eval_input_ids.npy" --labels "$fx/eval_labels.npy" \
  --mask "$fx/eval_attention_mask.npy" --html "$tmp/analysis.html" --text "hello world" \
  --attention-probe "$tmp/probe.tsv" >/dev/null 2>&1 || fail "analyze"
printf '<!DOCTYPE html><html><body></body></html>\n' >"$tmp/blank.html"

# check PAGE FIGURES HEATMAPS: rendered DOM and screenshot of one page.
check() {
  local page=$1 figures=$2 heatmaps=$3
  chrome --dump-dom "file://$tmp/$page.html" >"$tmp/$page.dom" || { fail "$page: chromium --dump-dom failed"; return; }
  grep -q "data-rendered=\"$figures\"" "$tmp/$page.dom" || fail "$page: expected data-rendered=\"$figures\" in the rendered DOM"
  local found; found=$(grep -o '<svg class="heatmap"' "$tmp/$page.dom" | wc -l)
  [[ $found -eq $heatmaps ]] || fail "$page: $found heatmaps in the rendered DOM, expected $heatmaps"
  # The file itself has no <svg>: every figure above was drawn by the page's script.
  if grep -q '<svg' "$tmp/$page.html"; then fail "$page: static SVG in the file"; fi
  chrome --window-size=1100,1400 --screenshot="$tmp/$page.png" "file://$tmp/$page.html" >/dev/null ||
    { fail "$page: chromium --screenshot failed"; return; }
  local size blank; size=$(stat -c %s "$tmp/$page.png" 2>/dev/null || echo 0); blank=$(stat -c %s "$tmp/blank.png")
  [[ $size -gt $((4 * blank)) && $size -gt 20000 ]] || fail "$page: screenshot of $size bytes is close to a blank page's ($blank)"
  echo "$page: $figures figures, $found heatmaps in the rendered DOM; screenshot $size bytes (blank page $blank)"
}
chrome --window-size=1100,1400 --screenshot="$tmp/blank.png" "file://$tmp/blank.html" >/dev/null || fail "blank screenshot"
check attention 8 8                 # 2 layers x 4 heads
check analysis 14 8                 # probe grid + importance grid + 4 bar charts + 8 heatmaps
# The attention probe's grid and its table (one row per head).
grep -q '<svg class="chart probe"' "$tmp/analysis.dom" || fail "analysis: no attention probe chart in the rendered DOM"
rows=$(sed -n '/<table class="probe">/,/<\/table>/p' "$tmp/analysis.dom" | grep -o '<tr><td>' | wc -l)
[[ $rows -eq 8 ]] || fail "analysis: $rows attention probe rows in the rendered DOM, expected 8"
if [[ $failures -ne 0 ]]; then
  echo "browser log:"; tail -20 "$tmp/browser.log"
fi
echo "browser: $failures failed"
[[ $failures -eq 0 ]]
