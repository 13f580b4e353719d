package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Call sends a request with a JSON body (none when body is empty) and a
// bearer token (none when empty), and decodes a JSON object answer into a
// generic map. A non-JSON answer fails the test.
func Call(t testing.TB, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	code, raw := CallRaw(t, method, url, token, body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: non-JSON answer %d: %s", method, url, code, raw)
		}
	}
	return code, out
}

// CallRaw sends a request like Call and returns the status and the body as
// it came.
func CallRaw(t testing.TB, method, url, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, raw
}

// Listen opens a TCP listener on a free loopback port and closes it when the
// test ends. A test that needs a port keeps the listener and hands it over
// (or passes its address to a server only while it still holds it), so no
// other process can take the number between choosing and using it.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
