// Package client is the Go client of a hotpool deployment: acquire a
// pre-warmed sandbox, run commands and move files through its agent, renew and
// release its lease, read metrics, and drive the admin actions (reconcile,
// shutdown, start, warm-up).
//
// It speaks the HTTP contract in docs/api.md and nothing else: it owns no pool
// state. It retries only what is safe to repeat (GET /metrics, an acquire with
// its idempotency key, a release with the same lease token, the shutdown,
// start and warm-up actions, and any request the server refused with 503
// unavailable and a Retry-After), and it never logs or
// prints a secret: the API token, lease tokens and agent tokens stay out of
// error messages and out of Sandbox's String and LogValue.
//
//	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HOTPOOL_API_TOKEN"))
//	err = c.WithSandbox(ctx, "python", func(sb *client.Sandbox) error {
//		res, err := sb.Exec(ctx, "python3 -c 'print(2+2)'", client.ExecOptions{})
//		...
//	})
package client
