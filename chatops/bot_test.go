package chatops_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/discord"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/mock"
	"github.com/odyssey-1/roman/sqldb"
)

const (
	approverUser = "111111111111111111"
	approverRole = "222222222222222222"
	adminUser    = "333333333333333333"
	strangerUser = "999999999999999999"
	approverUUID = "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01"
	adminUUID    = "7a2d3b9f-5c8e-4d2f-8b4a-3e6f9c8d0b12"
)

// edits is an httptest Discord API that records the contents of PATCHes
// of original responses.
type edits struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []string
	path string
}

func newEdits(t *testing.T) *edits {
	e := &edits{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m discord.Message
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &m)
		e.mu.Lock()
		e.msgs = append(e.msgs, m.Content)
		e.path = r.Method + " " + r.URL.EscapedPath()
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"1","content":"x"}`)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *edits) last() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) == 0 {
		return ""
	}
	return e.msgs[len(e.msgs)-1]
}

type botFixture struct {
	bot   *chatops.Bot
	store *sqldb.DB
	api   *edits
	svc   *mock.RollbackService
	bad   *roman.Deployment
	reqs  []roman.RollbackRequest
	mu    sync.Mutex
}

func newBot(t *testing.T, execute func(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error)) *botFixture {
	t.Helper()
	st, err := sqldb.Open(context.Background(), testkit.SQLiteURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	at := time.Date(2025, 12, 15, 13, 45, 0, 0, time.UTC)
	good := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v2.5.2", GitCommit: "a7f3b29c0ffee0123456789abcdef0123456789a",
		GitBranch: "main", Status: roman.StatusSuccess, HealthCheckPassed: true, DeployedAt: at}
	bad := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v2.5.3", GitCommit: "b81c4d0",
		GitBranch: "main", Status: roman.StatusSuccess, DeployedAt: at.Add(15 * time.Minute)}
	for _, d := range []*roman.Deployment{good, bad} {
		if err := st.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	f := &botFixture{store: st, api: newEdits(t), bad: bad}
	f.svc = &mock.RollbackService{ExecuteFn: func(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		return execute(f, req)
	}}
	f.bot = &chatops.Bot{ApplicationID: "42", Store: st, Rollbacks: f.svc,
		Approvers: []chatops.Approver{{ID: approverUser, UserID: approverUUID}, {ID: approverRole}, {ID: adminUser, UserID: adminUUID, Admin: true}},
		API:       &discord.Client{BaseURL: f.api.srv.URL}, MinEditInterval: time.Nanosecond, PollInterval: time.Millisecond}
	return f
}

// success is the result of a rollback to v2.5.2 that took 4.2 seconds.
func success(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error) {
	return &roman.RollbackResult{Success: true, Status: roman.RollbackSuccess, EventID: roman.NewUUID(), DurationMS: 4213,
		Validation:       roman.Validation{Compliant: true, Violations: []string{}, Warnings: []string{}},
		TargetDeployment: &roman.TargetDeployment{Version: "v2.5.2", GitCommit: "a7f3b29c0ffee0123456789abcdef0123456789a"}}, nil
}

// approve builds /approve rollback as Discord sends it (a guild member with
// roles; options nested under the subcommand).
func approve(user string, roles []string, deploymentID, reason string, override *bool) *discord.Interaction {
	opts := []discord.Option{
		{Name: "deployment_id", Type: discord.OptionString, Value: mustJSON(deploymentID)},
		{Name: "reason", Type: discord.OptionString, Value: mustJSON(reason)},
	}
	if override != nil {
		opts = append(opts, discord.Option{Name: "override", Type: discord.OptionBoolean, Value: mustJSON(*override)})
	}
	return &discord.Interaction{ID: "786008729715212338", Type: discord.InteractionApplicationCommand, Token: "A_UNIQUE_TOKEN",
		GuildID: "290926798626357999", ChannelID: "645027906669510667",
		Member: &discord.Member{User: &discord.User{ID: user, Username: "Mason"}, Roles: roles},
		Data:   &discord.CommandData{Name: "approve", Type: 1, Options: []discord.Option{{Name: "rollback", Type: discord.OptionSubCommand, Options: opts}}}}
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (f *botFixture) interact(t *testing.T, in *discord.Interaction) *discord.Response {
	t.Helper()
	resp, err := f.bot.Interact(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.bot.Wait(ctx); err != nil {
		t.Fatal("follow-up did not finish")
	}
	return resp
}

func (f *botFixture) events(t *testing.T, typ string) []*roman.RomanEvent {
	t.Helper()
	evs, err := f.store.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: typ})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestPingPong(t *testing.T) {
	f := newBot(t, success)
	resp := f.interact(t, &discord.Interaction{ID: "787053080478613555", Token: "ThisIsATokenFromDiscordThatIsVeryLong", Type: 1, Version: 1})
	if b, _ := json.Marshal(resp); string(b) != `{"type":1}` {
		t.Errorf("PING answered %s", b)
	}
}

// TestApproveRollbackSeedReply follows /approve rollback from an approver's
// role to the final edit in the seed's format.
func TestApproveRollbackSeedReply(t *testing.T) {
	f := newBot(t, success)
	resp := f.interact(t, approve("555", []string{approverRole}, f.bad.DeploymentID, "Critical bug in payment flow", nil))
	if resp.Type != discord.CallbackDeferredChannelMessage || resp.Data != nil {
		t.Fatalf("the first answer must be deferred (type 5), got %+v", resp)
	}
	want := "✅ Rollback approved by R.O.M.A.N.\n\n" +
		"Deployment: " + f.bad.DeploymentID + " (v2.5.3, production)\n" +
		"Reason: Critical bug in payment flow\n" +
		"Requested by: <@555>\n" +
		"Target: v2.5.2 (commit: a7f3b29)\n" +
		"Constitutional Validation: PASSED\n\n" +
		"Executing rollback...\n" +
		"[████████████████] 8/8\n" +
		"✅ Rollback complete (4.2 seconds)"
	if got := f.api.last(); got != want {
		t.Errorf("final reply:\n%s\nwant:\n%s", got, want)
	}
	if f.api.path != "PATCH /webhooks/42/A_UNIQUE_TOKEN/messages/@original" {
		t.Errorf("edited %s", f.api.path)
	}
	if first := f.api.msgs[0]; !strings.HasPrefix(first, "⏳ Rollback requested") || !strings.Contains(first, "Constitutional Validation: pending") {
		t.Errorf("first edit = %q", first)
	}
	req := f.reqs[0]
	if req.DeploymentID != f.bad.DeploymentID || req.TriggerReason != "Critical bug in payment flow" || req.TriggerType != roman.TriggerManual ||
		req.InitiatedBy != "" || req.Override || req.Caller != "discord:555" {
		t.Errorf("rollback request = %+v", req)
	}
	if evs := f.events(t, roman.EventDiscordApproval); len(evs) != 1 || !strings.Contains(string(evs[0].Metadata), f.bad.DeploymentID) {
		t.Errorf("approval rows = %v", evs)
	}
}

func TestApproverMapsToInitiatedBy(t *testing.T) {
	f := newBot(t, success)
	f.interact(t, approve(approverUser, nil, f.bad.DeploymentID, "bug", nil))
	if f.reqs[0].InitiatedBy != approverUUID || f.reqs[0].Admin {
		t.Errorf("request = %+v", f.reqs[0])
	}
}

func TestStrangerRefusedEphemerally(t *testing.T) {
	f := newBot(t, success)
	resp := f.interact(t, approve(strangerUser, []string{"123"}, f.bad.DeploymentID, "bug", nil))
	if resp.Type != discord.CallbackChannelMessageWithSource || resp.Data == nil || resp.Data.Flags != discord.FlagEphemeral ||
		!strings.Contains(resp.Data.Content, "not allowed to approve rollbacks") {
		t.Fatalf("refusal = %+v", resp)
	}
	if len(f.reqs) != 0 {
		t.Error("a stranger's request reached the rollback service")
	}
	evs := f.events(t, roman.EventDiscordRefused)
	if len(evs) != 1 {
		t.Fatalf("refusal rows = %d", len(evs))
	}
	var meta map[string]any
	_ = json.Unmarshal(evs[0].Metadata, &meta)
	if meta["discord_user_id"] != strangerUser || meta["deployment_id"] != f.bad.DeploymentID {
		t.Errorf("refusal metadata = %v", meta)
	}
	// The seed's troubleshooting query finds it.
	if got, _ := f.store.ListRomanEvents(context.Background(), roman.RomanEventFilter{DeploymentID: f.bad.DeploymentID}); len(got) != 1 {
		t.Errorf("metadata->>'deployment_id' finds %d rows", len(got))
	}
}

func TestOverrideNeedsAdmin(t *testing.T) {
	f := newBot(t, success)
	yes := true
	resp := f.interact(t, approve(approverUser, nil, f.bad.DeploymentID, "data risk", &yes))
	if resp.Data == nil || resp.Data.Flags != discord.FlagEphemeral || !strings.Contains(resp.Data.Content, "admin approver") || len(f.reqs) != 0 {
		t.Fatalf("non-admin override = %+v", resp)
	}
	if len(f.events(t, roman.EventDiscordRefused)) != 1 {
		t.Error("refused override not recorded")
	}
	resp = f.interact(t, approve(adminUser, nil, f.bad.DeploymentID, "data risk", &yes))
	if resp.Type != discord.CallbackDeferredChannelMessage || len(f.reqs) != 1 || !f.reqs[0].Override || !f.reqs[0].Admin || f.reqs[0].InitiatedBy != adminUUID {
		t.Fatalf("admin override: %+v %+v", resp, f.reqs)
	}
}

func TestRejectionShowsViolations(t *testing.T) {
	f := newBot(t, func(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		return nil, &roman.RejectedError{EventID: roman.NewUUID(), Validation: roman.Validation{
			Violations: []string{"Law of Total Coherence violated: Cannot increase entropy when system unstable"}, Warnings: []string{}}}
	})
	f.interact(t, approve(approverUser, nil, f.bad.DeploymentID, "bug", nil))
	got := f.api.last()
	for _, w := range []string{"🚨 Rollback rejected by R.O.M.A.N.", "Constitutional Validation: FAILED",
		"Violations:\n• Law of Total Coherence violated: Cannot increase entropy when system unstable", "Manual intervention required"} {
		if !strings.Contains(got, w) {
			t.Errorf("reply lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "Rollback complete") {
		t.Errorf("a rejection claims completion:\n%s", got)
	}
}

func TestFailureAndConflictShown(t *testing.T) {
	f := newBot(t, func(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		return &roman.RollbackResult{Status: roman.RollbackFailed, Error: "executor github failed: run concluded failure",
			Validation: roman.Validation{Compliant: true}}, nil
	})
	f.interact(t, approve(approverUser, nil, f.bad.DeploymentID, "bug", nil))
	if got := f.api.last(); !strings.Contains(got, "❌ Rollback failed: executor github failed: run concluded failure\nManual intervention required.") {
		t.Errorf("failure reply:\n%s", got)
	}
	f = newBot(t, func(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		return nil, roman.Errorf(roman.ECONFLICT, "rollback event e-1 of production is unfinished")
	})
	f.interact(t, approve(approverUser, nil, f.bad.DeploymentID, "bug", nil))
	if got := f.api.last(); !strings.HasPrefix(got, "❌ Rollback not started") || !strings.Contains(got, "rollback event e-1 of production is unfinished") {
		t.Errorf("conflict reply:\n%s", got)
	}
}

// TestInProgressAnswerAwaitsOutcome: the service answers in_progress (verify
// window); the reply waits for the event to finish and shows its real
// duration.
func TestInProgressAnswerAwaitsOutcome(t *testing.T) {
	var eventID string
	f := newBot(t, func(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: req.DeploymentID, Environment: "production",
			TriggerType: roman.TriggerManual, TriggerReason: req.TriggerReason, Status: roman.RollbackInProgress,
			InitiatedAt: time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC)}
		if err := f.store.CreateRollbackEvent(context.Background(), ev); err != nil {
			return nil, err
		}
		eventID = ev.EventID
		go func() {
			time.Sleep(20 * time.Millisecond) // the verify window, finishing later
			st, done := roman.RollbackSuccess, ev.InitiatedAt.Add(61500*time.Millisecond)
			_ = f.store.UpdateRollbackEvent(context.Background(), ev.EventID, roman.RollbackEventUpdate{Status: &st, CompletedAt: &done})
		}()
		return &roman.RollbackResult{Success: true, Status: roman.RollbackInProgress, EventID: ev.EventID,
			Validation: roman.Validation{Compliant: true}}, nil
	})
	f.interact(t, approve(approverUser, nil, f.bad.DeploymentID, "bug", nil))
	if got := f.api.last(); !strings.HasSuffix(got, "✅ Rollback complete (61.5 seconds)") {
		t.Errorf("reply after the verify window (event %s):\n%s", eventID, got)
	}
}

func TestHelpAndBadInput(t *testing.T) {
	f := newBot(t, success)
	help := f.interact(t, &discord.Interaction{Type: 2, Token: "t", Member: &discord.Member{User: &discord.User{ID: strangerUser}},
		Data: &discord.CommandData{Name: "help", Options: []discord.Option{{Name: "rollback", Type: discord.OptionSubCommand}}}})
	if help.Data == nil || help.Data.Flags != discord.FlagEphemeral || !strings.Contains(help.Data.Content, "/approve rollback deployment_id:<id> reason:<text> [override:true]") {
		t.Errorf("help = %+v", help)
	}
	for _, tc := range []struct {
		in   *discord.Interaction
		want string
	}{
		{approve(approverUser, nil, "abc-123", "bug", nil), "is not a deployment id"},
		{approve(approverUser, nil, f.bad.DeploymentID, "  ", nil), "`reason` is required"},
		{approve(approverUser, nil, "", "bug", nil), "`deployment_id` is required"},
		{approve(approverUser, nil, f.bad.DeploymentID, "bug\x00", nil), "must not contain a NUL character"},
	} {
		resp := f.interact(t, tc.in)
		if resp.Data == nil || resp.Data.Flags != discord.FlagEphemeral || !strings.Contains(resp.Data.Content, tc.want) {
			t.Errorf("answer = %+v, want %q", resp.Data, tc.want)
		}
	}
	if len(f.reqs) != 0 {
		t.Error("bad input reached the rollback service")
	}
	// An unknown deployment is reported in the reply.
	f.interact(t, approve(approverUser, nil, roman.NewUUID(), "bug", nil))
	if got := f.api.last(); !strings.HasPrefix(got, "❌ Rollback not started") || !strings.Contains(got, "not found") {
		t.Errorf("unknown deployment reply:\n%s", got)
	}
}

// TestShutdownEndsTheWait: a rollback still running when the server shuts
// down gets a last edit saying so, instead of holding the shutdown.
func TestShutdownEndsTheWait(t *testing.T) {
	f := newBot(t, func(f *botFixture, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: req.DeploymentID, Environment: "production",
			TriggerType: roman.TriggerManual, TriggerReason: req.TriggerReason, Status: roman.RollbackInProgress, InitiatedAt: time.Now()}
		if err := f.store.CreateRollbackEvent(context.Background(), ev); err != nil {
			return nil, err
		}
		return &roman.RollbackResult{Success: true, Status: roman.RollbackInProgress, EventID: ev.EventID, Validation: roman.Validation{Compliant: true}}, nil
	})
	resp, err := f.bot.Interact(context.Background(), approve(approverUser, nil, f.bad.DeploymentID, "bug", nil))
	if err != nil || resp.Type != discord.CallbackDeferredChannelMessage {
		t.Fatal(resp, err)
	}
	// Wait until the rollback was started (answered in progress).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		n := len(f.reqs)
		f.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.bot.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := f.api.last(); !strings.Contains(got, "⏳ Still running") || strings.Contains(got, "Rollback complete") {
		t.Errorf("last edit:\n%s", got)
	}
}
