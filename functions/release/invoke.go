package main

import (
	"context"

	"github.com/hotpool/hotpool/internal/fnenv"
)

// main invokes Main once with an event read from stdin and prints the
// response: a local stand-in for DigitalOcean's launcher ("go run
// ./functions/release < event.json"). make package leaves this file out, since
// the platform adds its own main.
func main() { fnenv.InvokeStdin(context.Background(), Main) }
