package testenv

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	driver "github.com/go-sql-driver/mysql"
)

// FaultProxy is a TCP proxy between a store and the test's MySQL server
// that cuts a connection at a chosen statement: a real fault at a real
// point of a transaction, such as its COMMIT, where a test could not time
// a cut from outside. It reads the statements the client sends (the MySQL
// protocol's COM_QUERY and COM_STMT_PREPARE packets) and passes everything
// else through untouched.
//
// It also makes the server fall silent (Stall), as a hung host or a
// network that drops packets does: connections stay open and nothing
// comes back, until Resume.
type FaultProxy struct {
	t      testing.TB
	l      net.Listener
	target string
	dsn    string
	cuts   atomic.Int64

	mu    sync.Mutex
	gate  chan struct{} // closed while bytes flow (see Stall)
	rule  *CutRule
	conns map[*proxyConn]bool
	wg    sync.WaitGroup
}

// CutRule says where FaultProxy cuts a connection, once.
type CutRule struct {
	// After arms the rule on a connection once it sends a statement for
	// which After is true (nil: every connection is armed).
	After func(query string) bool
	// At is the statement, on an armed connection, at which the
	// connection is cut.
	At func(query string) bool
	// Delivered lets the server run At's statement and cuts the
	// connection as its answer comes back, so the client never learns
	// the outcome; otherwise the connection is cut before the statement
	// reaches the server.
	Delivered bool
}

// NewFaultProxy starts a proxy to the server of dsn (a DSN from MySQL) and
// stops it when t ends.
func NewFaultProxy(t testing.TB, dsn string) *FaultProxy {
	t.Helper()
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skipf("FaultProxy needs a server reached over TCP, not %s", cfg.Net)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flowing := make(chan struct{})
	close(flowing)
	p := &FaultProxy{t: t, l: l, target: cfg.Addr, gate: flowing, conns: map[*proxyConn]bool{}}
	cfg.Addr = l.Addr().String()
	p.dsn = cfg.FormatDSN()
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// DSN is the DSN of the proxied database: the server's, through the proxy.
func (p *FaultProxy) DSN() string { return p.dsn }

// CutAt arms r, replacing any rule not yet carried out.
func (p *FaultProxy) CutAt(r CutRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = &r
}

// Cuts is how many connections a rule has cut so far.
func (p *FaultProxy) Cuts() int { return int(p.cuts.Load()) }

// Stall stops forwarding in both directions: what either side sends is
// held, and every connection, new ones too, stays open, until Resume.
func (p *FaultProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // stalled already
	}
}

// Resume forwards again after Stall, starting with what was held.
func (p *FaultProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Cut cuts every open connection at once, as a network failure would.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.close()
	}
}

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{p: p, client: client, server: server, closed: make(chan struct{})}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(2)
		go c.fromClient()
		go c.fromServer()
	}
}

func (p *FaultProxy) close() {
	p.l.Close()
	p.Cut()
	p.wg.Wait()
}

// take returns the rule if query fires it on a connection armed as given,
// and whether query arms the connection; a fired rule is used up.
func (p *FaultProxy) take(query string, armed bool) (fire *CutRule, arms bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rule
	if r == nil {
		return nil, false
	}
	if (armed || r.After == nil) && r.At(query) {
		p.rule = nil
		return r, false
	}
	return nil, r.After != nil && r.After(query)
}

// proxyConn is one client connection and its connection to the server.
type proxyConn struct {
	p              *FaultProxy
	client, server net.Conn
	armed          bool        // only fromClient uses it
	dropAnswer     atomic.Bool // cut as the server's next bytes arrive
	once           sync.Once
	closed         chan struct{}
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.client.Close()
		c.server.Close()
	})
}

// flowing waits while the proxy is stalled; false if the connection was
// closed meanwhile.
func (c *proxyConn) flowing() bool {
	c.p.mu.Lock()
	gate := c.p.gate
	c.p.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-c.closed:
		return false
	}
}

// MySQL command bytes that carry a statement's text.
const (
	comQuery       = 0x03
	comStmtPrepare = 0x16
)

// fromClient forwards the client's packets, reading each command's
// statement.
func (c *proxyConn) fromClient() {
	defer c.p.wg.Done()
	defer c.forget()
	header := make([]byte, 4)
	for {
		if _, err := io.ReadFull(c.client, header); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(append(header[:3:3], 0)))
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.client, payload); err != nil {
			return
		}
		// A command starts a sequence (number 0); the handshake's
		// packets are answers (1 and up).
		if header[3] == 0 && n > 0 && (payload[0] == comQuery || payload[0] == comStmtPrepare) {
			rule, arms := c.p.take(string(payload[1:]), c.armed)
			c.armed = c.armed || arms
			if rule != nil {
				c.p.cuts.Add(1)
				if !rule.Delivered {
					return // cut before the server saw it
				}
				c.dropAnswer.Store(true)
			}
		}
		if !c.flowing() {
			return
		}
		if _, err := c.server.Write(append(header, payload...)); err != nil {
			return
		}
	}
}

// fromServer forwards the server's bytes, unless an answer is to be lost.
func (c *proxyConn) fromServer() {
	defer c.p.wg.Done()
	defer c.forget()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			if c.dropAnswer.Load() {
				return // the server answered; the client never hears it
			}
			if !c.flowing() {
				return
			}
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forget closes both sides and drops the connection from the proxy.
func (c *proxyConn) forget() {
	c.close()
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
}
