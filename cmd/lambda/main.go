// Command lambda is hotpool on AWS Lambda (provided.al2023): the same HTTP
// contract as the DigitalOcean functions, from a function URL, an API Gateway
// HTTP or REST API or an Application Load Balancer, and reconcile from an
// EventBridge schedule. One binary serves every function: HOTPOOL_FUNCTION
// (acquire, release, metrics, reconcile) limits it to one function's routes;
// unset, it serves them all. See docs/lambda.md.
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hotpool/hotpool/internal/fnenv"
	"github.com/hotpool/hotpool/internal/lambdaevent"
)

var functions = map[string]bool{"": true, "acquire": true, "release": true, "metrics": true, "reconcile": true}

func main() {
	fn := os.Getenv("HOTPOOL_FUNCTION")
	if !functions[fn] {
		fmt.Fprintf(os.Stderr, "lambda: HOTPOOL_FUNCTION %q: want acquire, release, metrics, reconcile or unset\n", fn)
		os.Exit(2)
	}
	// Secrets come from Secrets Manager through AWS's extension layer when
	// their variable is unset and X_SECRET_ID names them (docs/lambda.md).
	getenv := lambdaevent.SecretsEnv(os.Getenv, &http.Client{}, os.Stderr)
	lambda.Start(lambdaevent.Handler(fnenv.NewLazyEnv(getenv, os.Stderr), fn))
}
