# hotpool — see README.md. Tests need a redis-server at $(REDIS_URL).
REDIS_URL ?= redis://127.0.0.1:6379
export REDIS_URL

.PHONY: run test bench lint fmt

run:
	go run ./cmd/hotpool serve --config examples/config.json --token dev-token

test:
	go test -race -count=1 ./...

bench:
	go test -run '^$$' -bench . -benchmem ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
