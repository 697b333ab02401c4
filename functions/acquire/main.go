// Package main is the DigitalOcean function /acquire. The DigitalOcean Go
// runtime builds this directory alone (see make package) and calls Main.
package main

import (
	"context"

	"github.com/hotpool/hotpool/internal/fnenv"
)

// app is built on the first request and kept while the container is warm.
var app = fnenv.NewLazy()

// Main is the entry point the DigitalOcean Go runtime calls.
func Main(ctx context.Context, event map[string]interface{}) map[string]interface{} {
	return app.DO(ctx, "acquire", event)
}
