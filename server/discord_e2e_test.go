package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// fakeDiscordAPI records the edits of original interaction responses.
type fakeDiscordAPI struct {
	srv   *httptest.Server
	mu    sync.Mutex
	edits []string
	paths []string
}

func newFakeDiscordAPI(t *testing.T) *fakeDiscordAPI {
	f := &fakeDiscordAPI{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Content string `json:"content"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &m)
		f.mu.Lock()
		f.edits = append(f.edits, m.Content)
		f.paths = append(f.paths, r.Method+" "+r.URL.EscapedPath())
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"1","content":%q}`, m.Content)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// count returns the number of edits received.
func (f *fakeDiscordAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.edits)
}

func (f *fakeDiscordAPI) last() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.edits) == 0 {
		return "", ""
	}
	return f.edits[len(f.edits)-1], f.paths[len(f.paths)-1]
}

// interact posts a signed interaction and returns the status and body.
func interact(t *testing.T, m *Server, key ed25519.PrivateKey, at time.Time, body string) (int, string) {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/discord/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Signature-Timestamp", ts)
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, []byte(ts+body))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// interactionIDs numbers the interactions of approveBody: Discord gives
// every interaction its own id.
var interactionIDs atomic.Int64

// approveBody is /approve rollback as Discord posts it from a guild, with an
// interaction id of its own.
func approveBody(user, deploymentID, reason string) string {
	return fmt.Sprintf(`{"type":2,"id":"%d","application_id":"42","token":"A_UNIQUE_TOKEN","guild_id":"290926798626357999",
"channel_id":"645027906669510667","member":{"user":{"id":%q,"username":"Mason"},"roles":["539082325061836999"]},
"data":{"id":"771825006014889984","name":"approve","type":1,"options":[{"type":1,"name":"rollback","options":[
{"type":3,"name":"deployment_id","value":%q},{"type":3,"name":"reason","value":%q}]}]},"locale":"en-US","version":1}`,
		786008729715212338+interactionIDs.Add(1), user, deploymentID, reason)
}

// TestDiscordApproveRollbackEndToEnd runs /approve rollback through the
// whole server on both stores: signature, deferred answer, the real rollback
// service, edits of the original response, and the audit trail.
func TestDiscordApproveRollbackEndToEnd(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		api := newFakeDiscordAPI(t)
		clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
		const approverUUID = "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11"
		m := openServer(t, database, clock.Now, nil, map[string]string{
			"ROMAN_DISCORD_PUBLIC_KEY":     hex.EncodeToString(pub),
			"ROMAN_DISCORD_APPLICATION_ID": "42",
			"ROMAN_DISCORD_API_URL":        api.srv.URL + "/api/v10",
			"ROMAN_DISCORD_APPROVERS":      "111111111111111111=" + approverUUID + ", 222222222222222222:admin",
		})
		defer m.Close()
		now := clock.Now()

		if code, body := interact(t, m, key, now, pingBody); code != 200 || body != `{"type":1}` {
			t.Fatalf("PING: %d %s", code, body)
		}
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		if code, _ := interact(t, m, other, now, pingBody); code != 401 {
			t.Fatalf("PING signed by another key: %d", code)
		}

		_, good := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken,
			`{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2025-12-15T13:45:00Z"}`)
		_, bad := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
		badID := bad["deployment_id"].(string)

		// Not on the allow-list: an ephemeral refusal and an audit row.
		code, body := interact(t, m, key, now, approveBody("999999999999999999", badID, "I want to"))
		var refusal struct {
			Type int
			Data struct {
				Content string
				Flags   int
			}
		}
		_ = json.Unmarshal([]byte(body), &refusal)
		if code != 200 || refusal.Type != 4 || refusal.Data.Flags != 64 || !strings.Contains(refusal.Data.Content, "not allowed") {
			t.Fatalf("stranger: %d %s", code, body)
		}
		refused, _ := m.Store.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: roman.EventDiscordRefused})
		if len(refused) != 1 {
			t.Fatalf("refusal rows: %d", len(refused))
		}

		// An approver: deferred at once, then the reply is edited.
		code, body = interact(t, m, key, now, approveBody("111111111111111111", badID, "Critical bug in payment flow"))
		if code != 200 || body != `{"type":5}` {
			t.Fatalf("approve: %d %s, want the deferred answer {\"type\":5}", code, body)
		}
		waitUntil(t, "the final edit", 10*time.Second, func() bool {
			last, _ := api.last()
			return strings.Contains(last, "Rollback complete")
		})
		last, path := api.last()
		if path != "PATCH /api/v10/webhooks/42/A_UNIQUE_TOKEN/messages/@original" {
			t.Errorf("edited %s", path)
		}
		for _, want := range []string{"✅ Rollback approved by R.O.M.A.N.", "Deployment: " + badID + " (v2.5.3, production)",
			"Reason: Critical bug in payment flow", "Target: v2.5.2 (commit: a7f3b29)", "Constitutional Validation: PASSED", "Executing rollback..."} {
			if !strings.Contains(last, want) {
				t.Errorf("final reply lacks %q:\n%s", want, last)
			}
		}
		if !regexp.MustCompile(`✅ Rollback complete \(\d+\.\d seconds\)$`).MatchString(last) {
			t.Errorf("final reply does not end with the duration:\n%s", last)
		}
		_, hist := testkit.Call(t, "GET", m.URL()+"/auto-rollback/history", readToken, "")
		ev := hist["rollbacks"].([]any)[0].(map[string]any)
		if ev["status"] != "success" || ev["initiated_by"] != approverUUID || ev["trigger_type"] != "manual" || ev["deployment_id"] != badID {
			t.Errorf("rollback event: %v", ev)
		}
		if good["deployment_id"] == nil {
			t.Fatal("good deployment not recorded")
		}
	})
}

const pingBody = `{"id":"787053080478613555","token":"ThisIsATokenFromDiscordThatIsVeryLong","type":1,"version":1}`

// discordScenario is the seed's scene for the replay tests: a Discord
// application with one approver, a fake Discord API, a fake clock, and in
// production a known-good v2.5.2 and the bad v2.5.3 (recordReleases).
type discordScenario struct {
	key   ed25519.PrivateKey
	api   *fakeDiscordAPI
	clock *testkit.Clock
	env   map[string]string
}

func newDiscordScenario(t *testing.T) *discordScenario {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	api := newFakeDiscordAPI(t)
	return &discordScenario{key: key, api: api, clock: testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)),
		env: map[string]string{
			"ROMAN_DISCORD_PUBLIC_KEY":     hex.EncodeToString(pub),
			"ROMAN_DISCORD_APPLICATION_ID": "42",
			"ROMAN_DISCORD_API_URL":        api.srv.URL + "/api/v10",
			"ROMAN_DISCORD_APPROVERS":      "111111111111111111",
		}}
}

// recordReleases records the known-good and the bad release on m and
// returns the bad one's id.
func (sc *discordScenario) recordReleases(t *testing.T, m *Server) string {
	testkit.Call(t, "POST", m.URL()+"/deployments", deployToken,
		`{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2025-12-15T13:45:00Z"}`)
	_, bad := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
	return bad["deployment_id"].(string)
}

// TestDiscordReplayRunsNothing captures one signed /approve rollback and
// replays it 20 times within the five minutes its signature stays valid,
// plus a refused one 10 times at once, on both stores. Each replay must get
// the first answer and run nothing: one approval row, one rollback, no
// further edits of the reply, one refusal row. After the signature window
// the replay is refused outright.
func TestDiscordReplayRunsNothing(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		sc := newDiscordScenario(t)
		key, api, clock := sc.key, sc.api, sc.clock
		m := closedAtEnd(t, openServer(t, database, clock.Now, nil, sc.env))
		signedAt := clock.Now()
		badID := sc.recordReleases(t, m)

		captured := approveBody("111111111111111111", badID, "Critical bug in payment flow")
		code, first := interact(t, m, key, signedAt, captured)
		if code != 200 || first != `{"type":5}` {
			t.Fatalf("approve: %d %s", code, first)
		}
		waitUntil(t, "the final edit", 10*time.Second, func() bool {
			last, _ := api.last()
			return strings.Contains(last, "Rollback complete")
		})
		edits := api.count()

		for i := range 20 {
			clock.Add(10 * time.Second) // 200 s in all: the signature stays valid
			if code, body := interact(t, m, key, signedAt, captured); code != 200 || body != first {
				t.Fatalf("replay %d: %d %s, want the first answer %s", i+1, code, body, first)
			}
		}
		stranger := approveBody("999999999999999999", badID, "let me")
		var wg sync.WaitGroup
		answers := make([]string, 10)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, answers[i] = interact(t, m, key, signedAt, stranger)
			}()
		}
		wg.Wait()
		for i, a := range answers {
			if a != answers[0] || !strings.Contains(a, "not allowed") {
				t.Fatalf("copy %d of a refused interaction: %s, want the first answer %s", i, a, answers[0])
			}
		}
		ctx := context.Background()
		if err := m.Discord.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		approvals, _ := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventDiscordApproval})
		refusals, _ := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventDiscordRefused})
		_, hist := testkit.Call(t, "GET", m.URL()+"/auto-rollback/history", readToken, "")
		if len(approvals) != 1 || len(refusals) != 1 || len(hist["rollbacks"].([]any)) != 1 || api.count() != edits {
			t.Fatalf("after replays: %d approval rows, %d refusal rows, %d rollbacks, %d reply edits (want 1, 1, 1, %d)",
				len(approvals), len(refusals), len(hist["rollbacks"].([]any)), api.count(), edits)
		}

		// Past the signature window, the replay is refused before anything.
		clock.Set(signedAt.Add(5*time.Minute + 2*time.Second))
		if code, _ := interact(t, m, key, signedAt, captured); code != 401 {
			t.Fatalf("a replay after the signature window: %d, want 401", code)
		}
	})
}

// TestDiscordReplayAfterRestart replays a signed /approve rollback to
// another process on the same database — a restarted roman, or another
// replica behind the load balancer — within the five minutes its signature
// stays valid: it must get the first answer and run nothing, on both
// stores, although that process never saw the interaction.
func TestDiscordReplayAfterRestart(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		sc := newDiscordScenario(t)
		key, api, clock, discordEnv := sc.key, sc.api, sc.clock, sc.env
		first := openServer(t, database, clock.Now, nil, discordEnv)
		signedAt := clock.Now()
		captured := approveBody("111111111111111111", sc.recordReleases(t, first), "Critical bug in payment flow")
		code, answer := interact(t, first, key, signedAt, captured)
		if code != 200 || answer != `{"type":5}` {
			t.Fatalf("approve: %d %s", code, answer)
		}
		waitUntil(t, "the final edit", 10*time.Second, func() bool {
			last, _ := api.last()
			return strings.Contains(last, "Rollback complete")
		})
		ctx := context.Background()
		if err := first.Discord.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		edits := api.count()

		clock.Add(2 * time.Minute) // the signature stays valid
		second := closedAtEnd(t, openServer(t, database, clock.Now, nil, discordEnv))
		for i := range 3 {
			if code, body := interact(t, second, key, signedAt, captured); code != 200 || body != answer {
				t.Fatalf("replay %d to another process: %d %s, want the first answer %s", i+1, code, body, answer)
			}
		}
		if err := second.Discord.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		approvals, _ := second.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventDiscordApproval})
		_, hist := testkit.Call(t, "GET", second.URL()+"/auto-rollback/history", readToken, "")
		if len(approvals) != 1 || len(hist["rollbacks"].([]any)) != 1 || api.count() != edits {
			t.Fatalf("after replays to another process: %d approval rows, %d rollbacks, %d reply edits (want 1, 1, %d)",
				len(approvals), len(hist["rollbacks"].([]any)), api.count(), edits)
		}
	})
}
