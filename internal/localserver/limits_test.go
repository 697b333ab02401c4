package localserver

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Bounded floods of idle, half-sent and slowly dripped connections, from a
// caller without a token, more than the server takes at once: every one of
// them is cut at its deadline, and a legitimate request is still answered.
func TestServerSurvivesIdleSlowAndHalfSentConnections(t *testing.T) {
	s, err := Start(context.Background(), Options{
		Addr: "127.0.0.1:0", Config: testConfig(t), Token: token, SimCreateDelay: 50 * time.Millisecond,
		MaxConns: 8, ReadHeaderTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	defer s.Close()
	addr := s.BaseURL[len("http://"):]

	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		require.NoError(t, err)
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return c
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range 24 {
		c := dial()
		switch i % 3 {
		case 0: // idle: never sends a byte
		case 1: // half-sent: a request line and no end of headers
			_, _ = c.Write([]byte("POST /acquire HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"))
		case 2: // drip: one header byte at a time, for a bounded while
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, b := range []byte("GET /metrics HTTP/1.1\r\nX-Drip: aaaaaaaa") {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}
	// A legitimate caller: answered once the flood's connections are cut.
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.Get(s.BaseURL + "/healthz")
	require.NoError(t, err, "the server still answers")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	wg.Wait()

	// Every flood connection was closed by the server at its deadline.
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				var ne net.Error
				if errorAsTimeout(err, &ne) {
					t.Fatalf("a flood connection was still open after 5 s")
				}
				break
			}
		}
	}
}

func errorAsTimeout(err error, ne *net.Error) bool {
	if e, ok := err.(net.Error); ok && e.Timeout() {
		*ne = e
		return true
	}
	return false
}
