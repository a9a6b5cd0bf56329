package testenv

import (
	"net"
	"sync"
	"testing"

	driver "github.com/go-sql-driver/mysql"
)

// Proxy is a TCP proxy that a test puts between the code under test and a
// server (a database, an SMTP server) to make real network faults on
// demand:
//
//   - Stall stops forwarding bytes in both directions while every
//     connection stays open, as a server that hangs or a network that
//     drops packets silently does. New connections are accepted and stall
//     too. Resume forwards again, what was held first.
//   - Cut closes every open connection at once, as a server that dies or
//     a connection reset does. Connections made after it work again.
//
// The proxy starts forwarding and closes itself when the test ends.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	gate    chan struct{} // closed while bytes flow
	conns   map[*proxied]struct{}
	closed  bool
	serving sync.WaitGroup
}

// NewProxy starts a proxy on a free loopback port that forwards every
// connection to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{target: target, ln: ln, gate: open, conns: make(map[*proxied]struct{})}
	p.serving.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// ProxyMySQL starts a proxy to the server of dsn (from MySQL) and returns
// it with dsn rewritten to connect through it.
func ProxyMySQL(t testing.TB, dsn string) (*Proxy, string) {
	t.Helper()
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := NewProxy(t, cfg.Addr)
	cfg.Net, cfg.Addr = "tcp", p.Addr()
	return p, cfg.FormatDSN()
}

// Addr is the proxy's host:port, to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops forwarding: bytes sent either way are held, and connections
// stay open, until Resume.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Resume forwards again after Stall, starting with what was held.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Cut closes every connection open through the proxy, on both sides.
// Later connections are forwarded as before (or held, if stalled).
func (p *Proxy) Cut() {
	p.mu.Lock()
	open := make([]*proxied, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		p.end(c)
	}
}

// Conns is the number of connections open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// proxied is one connection through the proxy.
type proxied struct {
	client, server net.Conn
	done           chan struct{} // closed when the connection ends
	once           sync.Once
}

// end closes both sides of c and wakes its forwarders.
func (p *Proxy) end(c *proxied) {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.server.Close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	})
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.serving.Wait()
}

func (p *Proxy) accept() {
	defer p.serving.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxied{client: client, server: server, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.serving.Add(2)
		p.mu.Unlock()
		go p.forward(c, server, client)
		go p.forward(c, client, server)
	}
}

// forward copies from src to dst, holding each chunk until the gate is
// open, and ends the connection when either side ends it.
func (p *Proxy) forward(c *proxied, dst, src net.Conn) {
	defer p.serving.Done()
	defer p.end(c)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			select {
			case <-gate:
			case <-c.done:
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
