package testkit

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Add(90 * time.Second)
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("after Add: %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("after Set: %v", got)
	}
}

func TestSinkSeen(t *testing.T) {
	var s Sink
	early := s.Seen("rolled back")
	fmt.Fprint(&s, "v2.5.3 was ")
	select {
	case <-early:
		t.Fatal("seen before the text was written")
	default:
	}
	fmt.Fprint(&s, "rolled back")
	select {
	case <-early:
	default:
		t.Fatal("not seen after the text was written across two writes")
	}
	select {
	case <-s.Seen("v2.5.3"):
	default:
		t.Fatal("a text already written must be seen at once")
	}
	if s.String() != "v2.5.3 was rolled back" {
		t.Fatalf("String: %q", s.String())
	}
}

func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q}`, r.Method)
	}))
	defer srv.Close()
	code, out := Call(t, "POST", srv.URL, "tok", `{}`)
	if code != 200 || out["method"] != "POST" {
		t.Fatalf("%d %v", code, out)
	}
	if code, out := Call(t, "GET", srv.URL, "", ""); code != 401 || out != nil {
		t.Fatalf("without a token: %d %v", code, out)
	}
}

func TestListenKeepsThePort(t *testing.T) {
	l := Listen(t)
	if other, err := net.Listen("tcp", l.Addr().String()); err == nil {
		other.Close()
		t.Fatal("the port was free again while the test held its listener")
	}
}
