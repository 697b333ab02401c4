#!/usr/bin/env bash
# Stages the DigitalOcean Functions project in OUT (default build/do):
# OUT/project.yml and, per function, OUT/packages/hotpool/<fn>/, a module
# DigitalOcean's builder can build alone: the hotpool module (same path, so
# its internal packages stay importable) cut down to the function as the root
# package main, the internal packages it imports, go.mod/go.sum, and vendor/
# with every third-party package. The builder adds its own main() launcher.
#
# Offline by default (GOPROXY=off): the module cache of a machine that has
# built hotpool holds everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/do}
module=github.com/hotpool/hotpool
fns=(acquire release metrics reconcile)

rm -rf "$out"
mkdir -p "$out/packages/hotpool"
cp "$root/project.yml" "$out/project.yml"
cd "$root"
for fn in "${fns[@]}"; do
  dst="$out/packages/hotpool/$fn"
  mkdir -p "$dst"
  # Only Main: invoke.go is the local stand-in for the platform's launcher.
  cp "functions/$fn/main.go" "$dst/main.go"
  go list -deps -f '{{if .Module}}{{if eq .Module.Path "'"$module"'"}}{{.ImportPath}}|{{.Dir}}|{{join .GoFiles " "}}|{{join .EmbedFiles " "}}{{end}}{{end}}' "./functions/$fn" |
    while IFS='|' read -r ip dir gofiles embeds; do
      rel=${ip#"$module"}
      rel=${rel#/}
      [ "$rel" = "functions/$fn" ] && continue
      for f in $gofiles $embeds; do
        mkdir -p "$dst/$rel/$(dirname "$f")"
        cp "$dir/$f" "$dst/$rel/$f"
      done
    done
  cp go.mod go.sum "$dst/"
  (cd "$dst" && GOFLAGS=-mod=mod GOPROXY="${STAGE_GOPROXY:-off}" go mod vendor)
  echo "staged $dst"
done
