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

# DigitalOcean Functions: stage build/do (project.yml + one self-contained,
# vendored module per function), prove each builds offline with Go 1.24 the
# way DigitalOcean's builder does, deploy with doctl (needs `doctl auth init`
# and the ${VARS} of project.yml in the environment or build/do/.env).
.PHONY: package package-check deploy lambda

package:
	./functions/stage.sh build/do

package-check: package
	./functions/check.sh build/do

deploy: package
	doctl serverless deploy build/do

# AWS Lambda (provided.al2023): one bootstrap binary; see docs/lambda.md.
lambda:
	mkdir -p build/lambda
	CGO_ENABLED=0 GOOS=linux GOARCH=$${GOARCH:-arm64} go build -trimpath -tags lambda.norpc -ldflags='-s -w' -o build/lambda/bootstrap ./cmd/lambda
	cd build/lambda && rm -f hotpool-lambda.zip && zip -q hotpool-lambda.zip bootstrap
