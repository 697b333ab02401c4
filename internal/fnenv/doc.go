// Package fnenv is what a serverless function instance (DigitalOcean
// Functions or AWS Lambda) reads from its environment, once per warm
// container: the token, the secret, the config, the Redis URL and the
// DigitalOcean token, from which internal/stack builds the Redis client, the
// App Platform provider, the reconciler, the service and the HTTP handler.
// Building dials nothing; the first request does. A failed build is retried
// on the next request.
//
// It owns the environment variables and the per-platform entry points the
// thin functions call; behaviour lives in the packages it wires.
package fnenv
