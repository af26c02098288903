#!/usr/bin/env bash
# Validates the Prometheus provisioning with promtool: the config (and the rule files it names), the
# rules, and the rules' unit tests. Prints exactly one line starting with SUCCESS or FAILED per check
# (scripts/run-suites.mjs counts them); promtool's own output follows each line behind "    | " so its
# SUCCESS/FAILED words are not counted twice. Exits non-zero if any check failed.
set -u
cd "$(dirname "$0")"

if ! command -v promtool >/dev/null 2>&1; then
  echo "FAILED promtool not found (Debian: apt-get install prometheus)"
  exit 1
fi

status=0
check() {
  local name=$1
  shift
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "SUCCESS $name"
  else
    echo "FAILED $name (exit $rc)"
    status=1
  fi
  printf '%s\n' "$out" | sed 's/^/    | /'
}

check "promtool check config prometheus.yml" promtool check config prometheus.yml
check "promtool check rules sentinel-rules.yml" promtool check rules sentinel-rules.yml
check "promtool test rules sentinel-rules.test.yml" promtool test rules sentinel-rules.test.yml
exit "$status"
