package appsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/stretchr/testify/require"
)

// Creates, reads, lists and deletes from many goroutines while faults and
// health switches flip: the race detector watches, and the books balance.
func TestConcurrentUseWithRuntimeFaults(t *testing.T) {
	sim, base := serve(t, appsim.Options{Seed: 3})
	const workers, each = 8, 15
	var wg sync.WaitGroup
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sim.SetFaults(appsim.Faults{Rate503: float64(i%2) * 0.2})
			sim.SetHealthFailing(fmt.Sprint(i), i%3 == 0)
			_ = sim.Calls()
			_ = sim.Injected()
			time.Sleep(time.Millisecond)
		}
	}()
	created := make(chan string, 2*workers*each) // a create and a delete each
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errs <- func() error {
				for i := 0; i < each; i++ {
					name := fmt.Sprintf("hp-w%d-%02d", w, i)
					a, err := send(http.MethodPost, base+"/v2/apps", token, godo.AppCreateRequest{Spec: appSpec(name)})
					if err != nil {
						return err
					}
					if a.status != http.StatusOK {
						continue // an injected 503: the app was not created
					}
					var root struct{ App *godo.App }
					if err := json.Unmarshal(a.body, &root); err != nil {
						return err
					}
					created <- root.App.ID
					for _, u := range []string{"/v2/apps/" + root.App.ID, "/v2/apps?per_page=200"} {
						if _, err := send(http.MethodGet, base+u, token, nil); err != nil {
							return err
						}
					}
					if i%2 == 0 {
						d, err := send(http.MethodDelete, base+"/v2/apps/"+root.App.ID, token, nil)
						if err != nil {
							return err
						}
						if d.status == http.StatusOK {
							created <- "-" + root.App.ID
						}
					}
				}
				return nil
			}()
		}(w)
	}
	wg.Wait()
	close(stop)
	<-stopped
	close(created)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	live := map[string]bool{}
	for id := range created {
		if id[0] == '-' {
			delete(live, id[1:])
		} else {
			live[id] = true
		}
	}
	sim.SetFaults(appsim.Faults{})
	a := do(t, http.MethodGet, base+"/v2/apps?per_page=200", token, nil)
	require.Equal(t, http.StatusOK, a.status)
	var list struct {
		Apps []*godo.App
		Meta godo.Meta
	}
	a.decode(t, &list)
	require.Equal(t, len(live), list.Meta.Total)
	for _, app := range list.Apps {
		require.True(t, live[app.ID], app.Spec.Name)
	}
	require.Equal(t, len(sim.CallLog()), sumCalls(sim.Calls()))
}

func sumCalls(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
