package hotpooltest

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// proxy is the soak's stand-in for a managed Redis's endpoint: one address
// that the clients keep, in front of whichever server is the primary now.
// A failover closes every connection through it and points it at the new
// primary, as a managed service moves its hostname; while it is down, a
// connection is accepted and closed at once.
type proxy struct {
	ln net.Listener

	mu     sync.Mutex
	target int // the port connections go to; 0 while down
	conns  map[net.Conn]bool
}

func newProxy(target int) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chaos: redis proxy: %w", err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

// URL is the address the server is given.
func (p *proxy) URL() string { return "redis://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	if target == 0 {
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(target))
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.target != target { // moved while dialling
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) { _, _ = io.Copy(dst, src); done <- struct{}{} }
	go cp(up, c)
	go cp(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// point sends new connections to port (0: down) and cuts every open one.
func (p *proxy) point(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = port
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.point(0)
}
