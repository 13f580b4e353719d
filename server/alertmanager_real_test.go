package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// alertmanagerBinary finds Debian's Alertmanager (package
// prometheus-alertmanager). CI installs it (.ci/run) and fails without it;
// elsewhere the test skips, saying so.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Alertmanager is not installed (apt-get install prometheus-alertmanager)")
	}
	t.Skip("SKIPPED: Alertmanager is not installed (apt-get install prometheus-alertmanager); the end-to-end test with a real Alertmanager did not run")
	return ""
}

// startAlertmanager runs a single-node Alertmanager on loopback whose only
// receiver is a webhook to roman's /integrations/alertmanager, sending
// token as its bearer credentials, and returns its base URL once it is
// ready. It listens on a port it picks itself (read from its log) and keeps
// its state in a temporary directory.
func startAlertmanager(t *testing.T, romanURL, token string) string {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	yml := `route:
  receiver: roman
  group_by: ['...']
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: roman
    webhook_configs:
      - url: '` + romanURL + `/integrations/alertmanager'
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: '` + token + `'
`
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--cluster.listen-address=", "--log.level=debug")
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sink := &testkit.Sink{}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", sink.String())
		}
	})
	addrc := make(chan string, 1)
	go func() {
		listening := regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:[0-9]+)`)
		sc := bufio.NewScanner(io.TeeReader(logs, sink))
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
	}()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case <-time.After(30 * time.Second):
		t.Fatal("alertmanager never said where it listens")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postAlerts posts alerts to Alertmanager's API (POST /api/v2/alerts), as
// Prometheus does.
func postAlerts(t *testing.T, amURL string, alerts ...map[string]any) {
	t.Helper()
	b, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %d %s", resp.StatusCode, msg.String())
	}
}

// TestRealAlertmanagerRollsBack: a real Alertmanager, started on loopback
// with a generated configuration whose webhook receiver is roman (a deploy
// key as its bearer credentials), receives an alert that started after
// checkout-api 1.4.2 was deployed; its notification reaches roman and the
// monitor rolls 1.4.2 back with the alert as the reason. An alert without an
// environment label is recorded as a warning; the resolved notification is
// recorded.
func TestRealAlertmanagerRollsBack(t *testing.T) {
	alertmanagerBinary(t)
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers)
		badID := deployCheckout(t, m, "production")
		am := startAlertmanager(t, m.URL(), deployToken)

		startsAt := time.Now().UTC()
		trigger := map[string]any{
			"labels": map[string]string{"alertname": "HighErrorRate", "environment": "production", "service": "checkout-api",
				"version": "1.4.2", "severity": "critical"},
			"annotations":  map[string]string{"summary": "Error rate above 5% on checkout-api"},
			"startsAt":     startsAt.Format(time.RFC3339Nano),
			"generatorURL": "http://prometheus.invalid/graph?g0.expr=up",
		}
		noEnv := map[string]any{
			"labels":      map[string]string{"alertname": "DiskFilling", "service": "checkout-api"},
			"annotations": map[string]string{"summary": "Disk 91% full"},
			"startsAt":    startsAt.Format(time.RFC3339Nano),
		}
		postAlerts(t, am, trigger, noEnv)

		awaitMonitor(t, "the automatic rollback after Alertmanager's notification", func() bool {
			h := history(t, m, "production")
			return len(h) == 1 && h[0].Finished()
		})
		ev := history(t, m, "production")[0]
		if ev.DeploymentID != badID || ev.TriggerType != roman.TriggerAutomatic || ev.TriggerReason != amReason || ev.Status != roman.RollbackSuccess {
			t.Fatalf("rollback event: %+v", ev)
		}
		trig := romanEvents(t, m, badID, roman.EventAutoRollbackTriggered)
		var md struct {
			Alert roman.FiringAlert `json:"alert"`
		}
		if len(trig) != 1 || json.Unmarshal(trig[0].Metadata, &md) != nil {
			t.Fatalf("trigger rows: %+v", trig)
		}
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(md.Alert.Fingerprint) || md.Alert.Rule != roman.AttributedByVersion ||
			!md.Alert.StartsAt.Equal(startsAt.Truncate(time.Microsecond)) {
			t.Fatalf("trigger evidence: %s", trig[0].Metadata)
		}
		awaitMonitor(t, "the unattributed alert's warning", func() bool {
			return len(romanEvents(t, m, "", roman.EventIntegrationUnattributed)) == 1
		})
		if w := romanEvents(t, m, "", roman.EventIntegrationUnattributed)[0]; !strings.Contains(w.Message, "DiskFilling") ||
			!strings.Contains(w.Message, "no environment label") {
			t.Fatalf("unattributed: %s", w.Message)
		}

		// Resolve it: Alertmanager sends the resolved notification.
		trigger["endsAt"] = time.Now().UTC().Format(time.RFC3339Nano)
		postAlerts(t, am, trigger)
		awaitMonitor(t, "the resolved notification", func() bool {
			for _, e := range romanEvents(t, m, badID, roman.EventIntegrationAlert) {
				if strings.Contains(e.Message, "HighErrorRate resolved") {
					return true
				}
			}
			return false
		})
		if rows := romanEvents(t, m, badID, roman.EventIntegrationAlert); len(rows) != 2 {
			msgs := make([]string, len(rows))
			for i, r := range rows {
				msgs[i] = fmt.Sprintf("%s %s", r.Timestamp, r.Message)
			}
			t.Fatalf("integration_alert rows (want one firing, one resolved; re-sent groups dropped): %v", msgs)
		}
		if n := len(history(t, m, "production")); n != 1 {
			t.Fatalf("rollbacks: %d", n)
		}
	})
}
