#!/usr/bin/env bash
# Proves that each staged function (functions/stage.sh) builds the way
# DigitalOcean's builder builds it: the directory alone, a launcher main()
# added beside Main, Go 1.24 (GOTOOLCHAIN, default go1.24.11), vendor/ only,
# no network. Each binary is then run once with a web event that has no
# token, and must answer 401 without any backend configured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
staged=${1:-$root/build/do}
toolchain=${CHECK_TOOLCHAIN:-go1.24.11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for dir in "$staged"/packages/hotpool/*/; do
  fn=$(basename "$dir")
  cp -r "$dir" "$work/$fn"
  # A launcher of the kind the platform writes: decode the event, call Main.
  cat > "$work/$fn/main__.go" <<'GO'
package main

import (
	"context"
	"encoding/json"
	"os"
)

func main() {
	var event map[string]interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&event); err != nil {
		os.Exit(2)
	}
	_ = json.NewEncoder(os.Stdout).Encode(Main(context.Background(), event))
}
GO
  (cd "$work/$fn" && env -u GOFLAGS GOTOOLCHAIN="$toolchain" GOFLAGS=-mod=vendor GOPROXY=off GOWORK=off \
    go build -trimpath -o "$work/$fn.bin" .)
  out=$(echo '{"http":{"method":"POST","path":"","headers":{},"body":"{}"}}' |
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" "$work/$fn.bin" 2>/dev/null)
  case "$out" in
    *'"statusCode":401'*) echo "ok   $fn builds with $toolchain offline and answers 401 without a token" ;;
    *) echo "FAIL $fn answered: $out" >&2; exit 1 ;;
  esac
done
