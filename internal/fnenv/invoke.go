package fnenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
)

// InvokeStdin runs a function's Main once, as DigitalOcean's launcher would:
// the event is a JSON object on stdin, the response is printed on stdout.
func InvokeStdin(ctx context.Context, main func(context.Context, map[string]interface{}) map[string]interface{}) {
	var event map[string]interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&event); err != nil {
		fmt.Fprintf(os.Stderr, "invoke: the event on stdin must be a JSON object: %v\n", err)
		os.Exit(2)
	}
	out, err := json.Marshal(main(ctx, event))
	if err != nil {
		fmt.Fprintf(os.Stderr, "invoke: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
