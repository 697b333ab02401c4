# hotpool — see README.md. `make test` and `make bench` start their own
# redis-server (scripts/test) unless REDIS_URL names one.

.PHONY: run test bench lint fmt build

# The Go the binaries this project ships are built with: the newest patch
# release the Go module proxy serves here (go1.27.3; `scripts/vulncheck`
# finds no reachable standard-library vulnerability with it, 10 with this
# machine's go1.26.8). The go command fetches it (GOTOOLCHAIN) on first use.
# go.mod stays at go 1.24: the functions DigitalOcean builds use its own Go
# (docs/digitalocean.md).
RELEASE_GO ?= go1.27.3

run:
	HOTPOOL_API_TOKEN=dev-token go run ./cmd/hotpool serve --config examples/config.json

# The README's test command: installs and starts its own redis-server on a
# free port (scripts/test), runs go test -race -count=1 ./..., stops it;
# then the Python clients' tests and wheel (scripts/test-python).
# The hotpool binary (CLI, serve, mcp) with the release Go.
build:
	mkdir -p build
	GOTOOLCHAIN=$(RELEASE_GO) CGO_ENABLED=0 go build -trimpath -o build/hotpool ./cmd/hotpool
	@GOTOOLCHAIN=$(RELEASE_GO) go version -m build/hotpool | head -1

test:
	./scripts/test
	./scripts/test-python

# Every benchmark of every package in one run, one package at a time (-p 1:
# they share 2 cores with redis-server), against the real redis-server:
# their own redis-server (scripts/test), or the one at REDIS_URL.
# docs/BENCHMARKS.md records a run and says what each one measures.
BENCHTIME ?= 1s
bench:
	./scripts/test -p 1 -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -timeout 60m ./...

# Each fuzz target for FUZZTIME, one after the other; the seed corpora live
# in each package's testdata/fuzz and run with every plain `go test`.
FUZZTIME ?= 10s
.PHONY: fuzz
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
	  for t in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz: $$pkg $$t ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# The soak: platform faults, redis-server restarts and killed passes for
# CHAOS_DURATION, then convergence and the leak/double hand-out checks
# (internal/hotpooltest, Soak; the short version is TestChaosShort in `make test`).
CHAOS_DURATION ?= 2m
.PHONY: chaos
chaos:
	go run ./cmd/hotpool chaos --duration $(CHAOS_DURATION) --clients 8 --seed 1

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# DigitalOcean Functions: stage build/do (project.yml + one self-contained,
# vendored module per function), prove each builds offline with Go 1.24 the
# way DigitalOcean's builder does, deploy with doctl (needs `doctl auth init`
# and the ${VARS} of project.yml in the environment or build/do/.env).
.PHONY: package package-check deploy lambda lambda-check

package:
	./functions/stage.sh build/do

# DigitalOcean's own deployer, remote build and runtime proxy, offline
# (../shared/tools/do-functions): .ci/do-functions.
package-check:
	./scripts/with-redis .ci/do-functions

# The deployer skips the triggers of remotely built functions, so deploy
# creates reconcile's schedule itself (hotpool trigger ensure).
deploy: package
	doctl serverless deploy build/do
	go run ./cmd/hotpool trigger ensure

# The bootstrap under AWS's Runtime Interface Emulator: .ci/lambda-rie.
lambda-check:
	./scripts/with-redis .ci/lambda-rie

# AWS Lambda (provided.al2023): one bootstrap binary; see docs/lambda.md.
# HOTPOOL_CONFIG=@file puts that config in the zip as hotpool-config.json
# (Lambda's environment is capped at 4 KB; the template reads
# @/var/task/hotpool-config.json).
lambda:
	rm -rf build/lambda && mkdir -p build/lambda
	GOTOOLCHAIN=$(RELEASE_GO) CGO_ENABLED=0 GOOS=linux GOARCH=$${GOARCH:-arm64} go build -trimpath -tags lambda.norpc -ldflags='-s -w' -o build/lambda/bootstrap ./cmd/lambda
	case "$${HOTPOOL_CONFIG:-}" in @*) go run ./cmd/hotpool config validate "$${HOTPOOL_CONFIG#@}" && cp "$${HOTPOOL_CONFIG#@}" build/lambda/hotpool-config.json;; esac
	cd build/lambda && zip -q hotpool-lambda.zip bootstrap $$(ls hotpool-config.json 2>/dev/null)
