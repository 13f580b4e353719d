package server

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

// These tests attack the running server the way the hardening review did:
// idle keep-alive connections, bodies held back by one byte, slow uploads.
// Their bounds are generous (a shared 2-core machine runs them); the
// measured values are logged.

// attackConns opens n connections to addr at once, runs attack on each (in
// its own goroutine) and keeps them open until the test ends, as an
// attacker would. It returns once every attack has done what it will do.
func attackConns(t *testing.T, addr string, n int, attack func(c net.Conn)) {
	t.Helper()
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			attack(c)
		}()
	}
	wg.Wait()
}

// keepAliveConns opens n connections to addr, makes one request on each so
// that the server sees a keep-alive connection, and leaves them open until
// the test ends. Connections the server does not answer within a second are
// kept open too, as an attacker would.
func keepAliveConns(t *testing.T, addr string, n int) {
	t.Helper()
	attackConns(t, addr, n, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		_ = c.SetDeadline(time.Time{})
	})
}

// heldBackBodies starts n requests to path, each announcing size bytes and
// sending all but the last one, and keeps them open until the test ends. It
// returns once every sender has sent what it will send, or failed.
func heldBackBodies(t *testing.T, addr, path string, header string, n, size int) {
	t.Helper()
	chunk := make([]byte, size-1) // one buffer shared by every sender
	for i := range chunk {
		chunk[i] = 'a'
	}
	attackConns(t, addr, n, func(c net.Conn) {
		_ = c.SetWriteDeadline(time.Now().Add(60 * time.Second))
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n", path, addr, header, size)
		_, _ = c.Write(chunk)
	})
}

// timedGet makes one request on a new connection and returns its status and
// how long the answer took; status 0 means it failed or took over limit.
func timedGet(t *testing.T, url, token string, limit time.Duration) (int, time.Duration) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: limit, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	d := time.Since(start)
	if err != nil {
		t.Logf("GET %s: %v after %v", url, err, d)
		return 0, d
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, d
}

// TestAttackIdleConnectionsAndHeldBackBodies: 500 idle keep-alive
// connections plus 300 unauthenticated 1 MiB bodies (dashboard sign-in and
// Discord interactions), each held back by one byte, leave normal requests
// answered promptly and the server's heap small: routes without a key read
// a few KiB at most before verifying.
func TestAttackIdleConnectionsAndHeldBackBodies(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := startServer(t, testkit.SQLiteURL(t), map[string]string{"ROMAN_DISCORD_PUBLIC_KEY": hex.EncodeToString(pub)})
	addr := m.Addr()

	before := heapInuse()
	keepAliveConns(t, addr, 500)
	form := "Content-Type: application/x-www-form-urlencoded\r\nOrigin: http://" + addr + "\r\n"
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		heldBackBodies(t, addr, "/app/admin/roman-dashboard/sign-in", form, 150, 1<<20)
	}()
	go func() {
		defer wg.Done()
		heldBackBodies(t, addr, "/discord/interactions", "Content-Type: application/json\r\nX-Signature-Ed25519: 00\r\nX-Signature-Timestamp: 1\r\n", 150, 1<<20)
	}()
	wg.Wait()

	for i := range 5 {
		code, d := timedGet(t, m.URL()+"/deployments", readToken, 10*time.Second)
		t.Logf("normal request %d under attack: %d in %v", i, code, d)
		if code != http.StatusOK || d > time.Second {
			t.Errorf("normal request %d under attack: status %d after %v, want 200 within 1s", i, code, d)
		}
	}
	after := heapInuse()
	t.Logf("heap in use: %d MB before the attack, %d MB during it", before>>20, after>>20)
	if after > 150<<20 {
		t.Errorf("heap in use during the attack = %d MB, want < 150 MB", after>>20)
	}
}

// TestUnauthenticatedBodiesAreSmall: a route without a key refuses a body
// over a few KiB with 413 before reading it, also when it comes chunked.
func TestUnauthenticatedBodiesAreSmall(t *testing.T) {
	m := startServer(t, testkit.SQLiteURL(t))
	big := strings.Repeat("a", 64<<10)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader("key=" + big)
		if chunked {
			body = io.MultiReader(strings.NewReader("key="), strings.NewReader(big)) // no length: sent chunked
		}
		req, _ := http.NewRequest("POST", m.URL()+"/app/admin/roman-dashboard/sign-in", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", m.URL())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: 64 KiB sign-in body: %d %s, want 413", chunked, resp.StatusCode, b)
		}
	}
}

// TestAttackIdleConnectionsOverFileLimit: with a low open-file limit, 500
// idle keep-alive connections do not keep new clients out: the server caps
// its connections below the limit and closes idle ones to make room.
func TestAttackIdleConnectionsOverFileLimit(t *testing.T) {
	bin := buildRoman(t)
	cmd := exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" serve`, bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "ROMAN_LISTEN=127.0.0.1:0", "ROMAN_DATABASE=", "ROMAN_API_KEYS=admin:"+crashToken)
	base := "http://" + startListening(t, cmd)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := strings.TrimPrefix(base, "http://")

	start := time.Now()
	keepAliveConns(t, addr, 500)
	t.Logf("500 keep-alive connections opened in %v", time.Since(start))
	for i := range 5 {
		code, d := timedGet(t, base+"/deployments", crashToken, 5*time.Second)
		t.Logf("normal request %d with 500 idle connections: %d in %v", i, code, d)
		if code != http.StatusOK || d > time.Second {
			t.Errorf("normal request %d with 500 idle connections: status %d after %v, want 200 within 1s", i, code, d)
		}
	}
}

// TestSlowBodyEndsWith408: a body that does not arrive within body_timeout
// ends the request with a JSON 408, and nothing is recorded.
func TestSlowBodyEndsWith408(t *testing.T) {
	m := startServer(t, testkit.SQLiteURL(t), map[string]string{"ROMAN_BODY_TIMEOUT": "1s"})
	for _, path := range []string{"/deployments", "/errors"} {
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"service\":", path, adminToken)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: no answer to a body that stopped: %v after %v", path, err, time.Since(start))
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("%s: %d %s after %v", path, resp.StatusCode, b, time.Since(start))
		if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/json" ||
			!strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: %d %q %s, want a JSON 408", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	if code, out := testkit.Call(t, "GET", m.URL()+"/deployments", readToken, ""); code != 200 || fmt.Sprint(out["deployments"]) != "[]" {
		t.Errorf("after two timed-out bodies: %d %v, want no deployments", code, out)
	}
}

// TestSlowUploadersDoNotBlockIngest: slow uploads with a deploy key (one byte
// every two seconds) hold no ingest slot while their bodies arrive, so other
// senders' batches are stored promptly.
func TestSlowUploadersDoNotBlockIngest(t *testing.T) {
	for _, n := range []int{4, 40} {
		t.Run(fmt.Sprintf("%d slow uploaders", n), func(t *testing.T) {
			m := startServer(t, testkit.SQLiteURL(t))
			id := deployPair(t, m, "production")
			addr := m.Addr()
			done := make(chan struct{})
			var wg sync.WaitGroup
			t.Cleanup(func() { close(done); wg.Wait() })
			for range n {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "POST /errors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", deployToken)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					tick := time.NewTicker(2 * time.Second)
					defer tick.Stop()
					for {
						select {
						case <-done:
							return
						case <-tick.C:
							_, _ = c.Write([]byte(" "))
						}
					}
				}()
			}
			time.Sleep(500 * time.Millisecond) // let every slow upload reach its handler
			var worst time.Duration
			for i := range 10 {
				start := time.Now()
				code, out := testkit.Call(t, "POST", m.URL()+"/errors", deployToken,
					fmt.Sprintf(`{"events":[{"deployment_id":%q,"message":"boom %d"},{"deployment_id":%q,"message":"bang %d"}]}`, id, i, id, i))
				d := time.Since(start)
				worst = max(worst, d)
				if code != http.StatusOK {
					t.Fatalf("batch %d beside %d slow uploads: %d %v after %v, want 200", i, n, code, out, d)
				}
			}
			t.Logf("slowest of 10 batches beside %d slow uploads: %v", n, worst)
			if worst > 2*time.Second {
				t.Errorf("slowest batch beside %d slow uploads took %v, want < 2s", n, worst)
			}
		})
	}
}

// heapInuse returns the test process's heap in use after a collection; the
// in-process server shares it.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestWriteTimeoutSparesTheLiveStream: the dashboard's live stream outlives
// the write timeout that bounds every other answer, and still carries
// changes after it.
func TestWriteTimeoutSparesTheLiveStream(t *testing.T) {
	m := startServer(t, testkit.SQLiteURL(t), map[string]string{"ROMAN_WRITE_TIMEOUT": "1s"})
	lines := dashboardStream(t, m)
	awaitStream(t, lines, "the stream's first event", func(l string) bool { return l == "event: ready" })
	time.Sleep(2500 * time.Millisecond) // well past the write timeout
	deployPair(t, m, "production")
	awaitStream(t, lines, "a change after the write timeout", func(l string) bool { return strings.HasPrefix(l, "data:") && strings.Contains(l, "production") })
}
