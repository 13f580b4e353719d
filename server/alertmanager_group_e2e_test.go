package server

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestAlertmanagerConcurrentWebhooks: many webhook messages posted at once
// through the whole server, a third of them re-sending another's alert,
// each alert lands exactly once: one integration_alerts row, one audit row,
// and exactly one answer saying "recorded" (the others "duplicate"). As
// many senders post at once as the server admits ingest requests; a
// message the server is too busy for is answered 503 and posted again
// shortly after, as Alertmanager retries a 5xx.
func TestAlertmanagerConcurrentWebhooks(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers)
		deployCheckout(t, m, "production")
		startsAt := time.Now().UTC().Add(time.Millisecond)
		const distinct, resent = 24, 12
		var bodies [][]byte
		for i := range distinct + resent {
			bodies = append(bodies, amBody(t, "production", "QueueBacklog", fmt.Sprintf("%016x", 0xa000+i%distinct), startsAt))
		}
		var mu sync.Mutex
		recorded, duplicates := map[string]int{}, 0
		var wg sync.WaitGroup
		senders := make(chan struct{}, api.DefaultMaxIngestInflight)
		for _, body := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				senders <- struct{}{}
				defer func() { <-senders }()
				for {
					code, out := postAM(t, m.URL(), deployToken, string(body))
					if code == http.StatusServiceUnavailable {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					if code != 200 {
						t.Errorf("webhook: %d %v", code, out)
						return
					}
					a := out["alerts"].([]any)[0].(map[string]any)
					mu.Lock()
					switch a["outcome"] {
					case roman.AlertOutcomeNew:
						recorded[a["fingerprint"].(string)]++
					case roman.AlertOutcomeDuplicate:
						duplicates++
					default:
						t.Errorf("alert %v", a)
					}
					mu.Unlock()
					return
				}
			}()
		}
		wg.Wait()
		if len(recorded) != distinct || duplicates != resent {
			t.Fatalf("%d alerts recorded, %d duplicates; want %d and %d", len(recorded), duplicates, distinct, resent)
		}
		for fp, n := range recorded {
			if n != 1 {
				t.Errorf("alert %s answered recorded %d times", fp, n)
			}
		}
		if n := sqlCount(t, m, "SELECT count(*) FROM integration_alerts WHERE alertname = 'QueueBacklog'"); n != distinct {
			t.Errorf("%d alert rows, want %d", n, distinct)
		}
		if n := sqlCount(t, m, "SELECT count(*) FROM roman_events WHERE event_type = '"+roman.EventIntegrationAlert+"'"); n != distinct {
			t.Errorf("%d audit rows, want %d", n, distinct)
		}
	})
}
