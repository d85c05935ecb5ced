# Shared helpers of the tests/slow/*.sh scripts (sourced; "$bin" is the cformer binary).
# fail MESSAGE...: counts a failure. expect_error DESCRIPTION MESSAGE_PART ARGS...: runs
# "$bin" ARGS and passes when it exits non-zero (not by a signal), prints a line starting with
# "error: " and mentions MESSAGE_PART (case-insensitive).
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_error() {
  local what="$1" want="$2"
  shift 2
  local out rc
  out=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ] || ! grep -q "^error: " <<<"$out" || ! grep -qi -- "$want" <<<"$out"; then
    fail "$what (exit $rc): $out"
  else
    echo "ok: $what -> $(grep '^error: ' <<<"$out" | head -n 1)"
  fi
}
