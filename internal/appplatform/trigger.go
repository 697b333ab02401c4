package appplatform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"
)

// EnvAPIURL overrides the DigitalOcean API base URL everywhere hotpool calls
// it (the functions, the Lambda binary, serve --provider digitalocean,
// trigger ensure), so tests can point real godo at a stand-in.
const EnvAPIURL = "HOTPOOL_DO_API_URL"

// The scheduled trigger of the reconcile function, as project.yml names it.
const (
	DefaultTriggerName     = "reconcile-every-minute"
	DefaultTriggerFunction = "hotpool/reconcile"
	DefaultTriggerCron     = "* * * * *"
)

// TriggerSpec is the trigger `hotpool trigger ensure` holds in place.
type TriggerSpec struct {
	Namespace string // "" picks the account's only namespace
	Name      string
	Function  string
	Cron      string
}

// TriggerResult says what EnsureTrigger did.
type TriggerResult struct {
	Namespace string
	Action    string // "created", "updated" or "unchanged"
	Trigger   godo.FunctionsTrigger
}

// NewFunctionsService is godo's Functions API with the token, at baseURL
// ("" is DigitalOcean's).
func NewFunctionsService(token, baseURL string) (godo.FunctionsService, error) {
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("a DigitalOcean API token is required (DIGITALOCEAN_TOKEN)")
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: strings.TrimSpace(token)})}}
	opts := []godo.ClientOpt{godo.SetUserAgent("hotpool")}
	if baseURL != "" {
		opts = append(opts, godo.SetBaseURL(strings.TrimSuffix(baseURL, "/")+"/"))
	}
	c, err := godo.New(hc, opts...)
	if err != nil {
		return nil, fmt.Errorf("godo client: %w", err)
	}
	return c.Functions, nil
}

// EnsureTrigger makes the enabled SCHEDULED trigger of spec exist exactly
// once: it creates it when absent, updates its cron (and enables it) in place
// when they differ, and changes nothing otherwise. A trigger of that name on
// another function is an error, never overwritten.
func EnsureTrigger(ctx context.Context, fs godo.FunctionsService, spec TriggerSpec) (TriggerResult, error) {
	if spec.Name == "" {
		spec.Name = DefaultTriggerName
	}
	if spec.Function == "" {
		spec.Function = DefaultTriggerFunction
	}
	if spec.Cron == "" {
		spec.Cron = DefaultTriggerCron
	}
	if n := len(strings.Fields(spec.Cron)); n != 5 {
		return TriggerResult{}, fmt.Errorf("cron %q has %d fields; a cron expression has 5 (minute hour day month weekday)", spec.Cron, n)
	}
	ns, err := resolveNamespace(ctx, fs, spec.Namespace)
	if err != nil {
		return TriggerResult{}, err
	}
	res := TriggerResult{Namespace: ns}
	cur, resp, err := fs.GetTrigger(ctx, ns, spec.Name)
	switch {
	case err != nil && resp != nil && resp.StatusCode == http.StatusNotFound:
		t, _, err := fs.CreateTrigger(ctx, ns, &godo.FunctionsTriggerCreateRequest{
			Name: spec.Name, Type: "SCHEDULED", Function: spec.Function, IsEnabled: true,
			ScheduledDetails: &godo.TriggerScheduledDetails{Cron: spec.Cron},
		})
		if err != nil {
			return res, fmt.Errorf("create trigger %s in %s: %w", spec.Name, ns, err)
		}
		res.Action, res.Trigger = "created", *t
		return res, nil
	case err != nil:
		return res, fmt.Errorf("get trigger %s in %s: %w", spec.Name, ns, err)
	}
	if cur.Function != spec.Function {
		return res, fmt.Errorf("trigger %s in %s invokes %q, not %q: delete it or pick another --name", spec.Name, ns, cur.Function, spec.Function)
	}
	if cur.IsEnabled && cur.ScheduledDetails != nil && cur.ScheduledDetails.Cron == spec.Cron {
		res.Action, res.Trigger = "unchanged", *cur
		return res, nil
	}
	enabled := true
	t, _, err := fs.UpdateTrigger(ctx, ns, spec.Name, &godo.FunctionsTriggerUpdateRequest{
		IsEnabled: &enabled, ScheduledDetails: &godo.TriggerScheduledDetails{Cron: spec.Cron},
	})
	if err != nil {
		return res, fmt.Errorf("update trigger %s in %s: %w", spec.Name, ns, err)
	}
	res.Action, res.Trigger = "updated", *t
	return res, nil
}

// resolveNamespace is the namespace given, which must exist, or the
// account's only one.
func resolveNamespace(ctx context.Context, fs godo.FunctionsService, want string) (string, error) {
	list, _, err := fs.ListNamespaces(ctx)
	if err != nil {
		return "", fmt.Errorf("list functions namespaces: %w", err)
	}
	var names []string
	for _, n := range list {
		if want != "" && (n.Namespace == want || n.Label == want) {
			return n.Namespace, nil
		}
		names = append(names, fmt.Sprintf("%s (%s, %s)", n.Namespace, n.Label, n.Region))
	}
	switch {
	case want != "":
		return "", fmt.Errorf("no functions namespace %q in this account; it has: %s", want, orNone(names))
	case len(list) == 0:
		return "", errors.New("the account has no functions namespace: create one (doctl serverless namespaces create --label hotpool --region nyc1) and deploy first")
	case len(list) > 1:
		return "", fmt.Errorf("the account has %d functions namespaces; pick one with --namespace: %s", len(list), strings.Join(names, ", "))
	}
	return list[0].Namespace, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
