#!/usr/bin/env bash
# Stages the DigitalOcean Functions project in OUT (default build/do):
# OUT/project.yml and, per function, OUT/packages/hotpool/<fn>/, a module
# DigitalOcean's builder can build alone: the hotpool module (same path, so
# its internal packages stay importable) cut down to the function as the root
# package main and the internal packages it imports, a go.mod/go.sum tidied
# to what that function imports (the remote builder runs `go mod download`
# over every module go.mod names). The builder adds its own
# main() launcher.
#
# Optional variables join project.yml's lists only when they are set now, so
# the deployer (which aborts on any unset name) never sees one that is not:
#   HOTPOOL_LOG_LEVEL, HOTPOOL_DO_API_URL   every function
#   HOTPOOL_WEBHOOK_SECRET*                  reconcile (it delivers webhooks)
#
# go mod tidy reads go.mod files of test-only dependencies of dependencies,
# which the module cache may lack: it fetches them (GOPROXY) when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/do}
module=github.com/hotpool/hotpool
fns=(acquire release metrics reconcile)

rm -rf "$out"
mkdir -p "$out/packages/hotpool"
cd "$root"

# Optional variables are added after the last required one of their map.
pkg_opt="" rec_opt=""
for v in HOTPOOL_LOG_LEVEL HOTPOOL_DO_API_URL; do
  [ -n "${!v:-}" ] && pkg_opt+="      $v: '\${$v}'\n"
done
for v in $(compgen -v | grep '^HOTPOOL_WEBHOOK_SECRET' || true); do
  [ -n "${!v:-}" ] && rec_opt+="          $v: '\${$v}'\n"
done
awk -v pkg="$pkg_opt" -v rec="$rec_opt" '
  { print }
  /^      HOTPOOL_SECRET: /      { printf "%s", pkg }
  /^          DIGITALOCEAN_TOKEN: / { printf "%s", rec }
' project.yml >"$out/project.yml"
grep -q "^      HOTPOOL_SECRET: " project.yml && grep -q "^          DIGITALOCEAN_TOKEN: " project.yml ||
  { echo "stage.sh: project.yml lost the lines optional variables follow" >&2; exit 1; }
[ -z "$pkg_opt$rec_opt" ] || echo "staged optional variables: $(printf "$pkg_opt$rec_opt" | awk -F: '{printf "%s ", $1}' | tr -s ' ')"

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
  (cd "$dst" && export GOFLAGS=-mod=mod GOTOOLCHAIN=local &&
    go mod tidy)
  echo "staged $dst ($(grep -c '^	' "$dst/go.mod") modules in go.mod)"
done
