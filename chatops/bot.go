// Package chatops is roman's Discord chat-ops bot: it answers verified
// interactions (PING, /approve rollback and /help rollback), runs an
// approved rollback through the rollback service, records approvals and
// refusals in roman_events, and edits its deferred reply as the rollback
// proceeds. The Discord API itself (types, limits, signature check, REST
// client) lives in package discord; this package is roman's behaviour on top
// of it.
package chatops

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/discord"
)

// Store is what the bot reads and writes: the deployment to roll back and
// its rollback target, the rollback's progress, and the audit rows of
// approvals and refusals. It names only these small interfaces so that a test
// or another store can provide exactly what the bot uses.
type Store interface {
	roman.DeploymentStore
	roman.RollbackStore
	roman.EventStore
}

// FollowUpTimeout bounds the work after a deferred reply: Discord's
// interaction token is valid for 15 minutes, after which the original
// response can no longer be edited.
const FollowUpTimeout = 15 * time.Minute

// maxReason bounds the reason of /approve rollback, as the API bounds
// trigger_reason.
const maxReason = 4096

// Approver is an allow-listed Discord user or role.
type Approver struct {
	// ID is a Discord user id or role id.
	ID string
	// UserID is the uuid recorded as initiated_by; empty records none.
	UserID string
	// Admin allows override: true (the API's admin role).
	Admin bool
}

// Bot answers verified interactions: PING, /approve rollback and
// /help rollback. It is safe for concurrent use.
type Bot struct {
	// Key is the application's public key, which verifies interactions.
	Key ed25519.PublicKey
	// ApplicationID is used to edit responses when an interaction does not
	// carry its application_id.
	ApplicationID string
	// Approvers is the allow-list.
	Approvers []Approver
	// Rollbacks runs the approved rollback.
	Rollbacks roman.RollbackService
	// Store reads deployments and rollback progress and records the
	// approval and refusal rows (roman_events).
	Store Store
	// Hub, when set, tells the bot of rollback progress so it can edit its
	// reply step by step.
	Hub *roman.Hub
	// API edits the original response.
	API    *discord.Client
	Clock  roman.Clock
	Logger *slog.Logger
	// MinEditInterval spaces progress edits (default one second) so that a
	// fast rollback does not run into Discord's webhook rate limit. The
	// final edit is never skipped.
	MinEditInterval time.Duration
	// PollInterval is how often an answered-in-progress rollback is looked
	// at until it finishes (default one second).
	PollInterval time.Duration

	wg        sync.WaitGroup
	initOnce  sync.Once
	closeOnce sync.Once
	stopping  chan struct{} // closed by Shutdown
}

// PublicKey returns the key interactions must be signed with.
func (b *Bot) PublicKey() ed25519.PublicKey { return b.Key }

// Now returns the bot's clock reading, used to judge signature age.
func (b *Bot) Now() time.Time { return b.clock() }

// Wait blocks until every follow-up (a rollback being reported) has finished
// or ctx ends. The server calls it on shutdown before closing the store.
func (b *Bot) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown tells follow-ups to stop waiting for rollbacks that are still
// running (their reply then says so: the rollback itself goes on, or parks
// and resumes on the next start) and waits for them as Wait does.
func (b *Bot) Shutdown(ctx context.Context) error {
	b.stopped()
	b.closeOnce.Do(func() { close(b.stopping) })
	return b.Wait(ctx)
}

// stopped is closed once Shutdown was called.
func (b *Bot) stopped() <-chan struct{} {
	b.initOnce.Do(func() { b.stopping = make(chan struct{}) })
	return b.stopping
}

// Interact answers one verified interaction. The answer is always immediate:
// a command that takes time (a rollback) is answered with a deferred
// response and reported by editing it afterwards.
func (b *Bot) Interact(ctx context.Context, in *discord.Interaction) (*discord.Response, error) {
	switch in.Type {
	case discord.InteractionPing:
		return &discord.Response{Type: discord.CallbackPong}, nil
	case discord.InteractionApplicationCommand:
	default:
		return ephemeral("R.O.M.A.N. does not handle this kind of interaction."), nil
	}
	if in.Data == nil {
		return nil, roman.Errorf(roman.EINVALID, "interaction has no data")
	}
	sub, opts := subcommand(in.Data.Options)
	switch {
	case in.Data.Name == "help":
		return ephemeral(HelpRollback), nil
	case in.Data.Name == "approve" && sub == "rollback":
		return b.approveRollback(ctx, in, opts), nil
	}
	return ephemeral(fmt.Sprintf("Unknown command /%s %s. Try `/help rollback`.", in.Data.Name, sub)), nil
}

// subcommand returns the first option when it is a subcommand, with its
// options; otherwise "" and the options themselves.
func subcommand(opts []discord.Option) (string, []discord.Option) {
	if len(opts) > 0 && opts[0].Type == discord.OptionSubCommand {
		return opts[0].Name, opts[0].Options
	}
	return "", opts
}

// ephemeral is an immediate reply only the invoking user sees.
func ephemeral(text string) *discord.Response {
	m := &discord.Message{Content: text, Flags: discord.FlagEphemeral, AllowedMentions: discord.NoMentions()}
	discord.Fit(m)
	return &discord.Response{Type: discord.CallbackChannelMessageWithSource, Data: m}
}

// approval is one /approve rollback request.
type approval struct {
	user     *discord.User
	approver Approver
	appID    string
	token    string
	req      roman.RollbackRequest
}

func (b *Bot) approveRollback(ctx context.Context, in *discord.Interaction, opts []discord.Option) *discord.Response {
	user, roles := in.Invoker()
	var depID, reason string
	var override bool
	for _, o := range opts {
		switch o.Name {
		case "deployment_id":
			depID = strings.TrimSpace(o.String())
		case "reason":
			reason = strings.TrimSpace(o.String())
		case "override":
			override = o.Bool()
		}
	}
	meta := map[string]any{"deployment_id": depID, "reason": reason, "override": override,
		"guild_id": in.GuildID, "channel_id": in.ChannelID, "interaction_id": in.ID}
	if user != nil {
		meta["discord_user_id"], meta["discord_username"] = user.ID, user.Username
	}
	ap, ok := b.approver(user, roles)
	if !ok {
		b.record(ctx, roman.EventDiscordRefused, roman.SeverityWarning,
			"Discord user is not allowed to approve rollbacks", meta)
		return ephemeral("⛔ You are not allowed to approve rollbacks. An administrator can add your " +
			"Discord user or role id to `discord_approvers`.")
	}
	if override && !ap.Admin {
		meta["refusal"] = "override requires an admin approver"
		b.record(ctx, roman.EventDiscordRefused, roman.SeverityWarning,
			"Discord approver may not override the constitution", meta)
		return ephemeral("⛔ `override` needs an admin approver (`admin: true` in `discord_approvers`).")
	}
	switch {
	case depID == "":
		return ephemeral("`deployment_id` is required. Try `/help rollback`.")
	case !roman.ValidUUID(depID):
		return ephemeral(fmt.Sprintf("`deployment_id` %q is not a deployment id (a UUID).", discord.Truncate(depID, 64)))
	case reason == "":
		return ephemeral("`reason` is required. Try `/help rollback`.")
	case len(reason) > maxReason:
		return ephemeral(fmt.Sprintf("`reason` is too long (at most %d bytes).", maxReason))
	case strings.ContainsRune(reason, 0):
		// PostgreSQL cannot store a NUL character (the API refuses it too).
		return ephemeral("`reason` must not contain a NUL character.")
	}
	appID := in.ApplicationID
	if appID == "" {
		appID = b.ApplicationID
	}
	a := &approval{user: user, approver: ap, appID: appID, token: in.Token, req: roman.RollbackRequest{
		DeploymentID: strings.ToLower(depID), TriggerReason: reason, InitiatedBy: ap.UserID,
		TriggerType: roman.TriggerManual, Override: override, Admin: ap.Admin, Caller: "discord:" + user.ID,
	}}
	meta["initiated_by"] = ap.UserID
	meta["approver_id"] = ap.ID
	b.record(ctx, roman.EventDiscordApproval, roman.SeverityInfo, "Rollback approved on Discord", meta)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.followUp(a)
	}()
	return &discord.Response{Type: discord.CallbackDeferredChannelMessage}
}

// approver finds the allow-list entry of a user: their own entry first, else
// one of their roles' (an admin role before others).
func (b *Bot) approver(u *discord.User, roles []string) (Approver, bool) {
	if u == nil || u.ID == "" {
		return Approver{}, false
	}
	var found *Approver
	for i := range b.Approvers {
		a := &b.Approvers[i]
		if a.ID == u.ID {
			return *a, true
		}
		for _, r := range roles {
			if a.ID == r && (found == nil || (a.Admin && !found.Admin)) {
				found = a
			}
		}
	}
	if found == nil {
		return Approver{}, false
	}
	return *found, true
}

// record writes a roman_events row; a failure is logged, never shown.
func (b *Bot) record(ctx context.Context, typ, sev, msg string, meta map[string]any) {
	raw, _ := json.Marshal(meta)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	e := &roman.RomanEvent{EventType: typ, Severity: sev, Message: msg, Metadata: raw, Timestamp: roman.UTC(b.clock())}
	if err := b.Store.AddRomanEvent(ctx, e); err != nil {
		b.logger().Error("writing a Discord audit row failed", "event_type", typ, "err", err)
	}
}

func (b *Bot) clock() time.Time {
	if b.Clock == nil {
		return roman.SystemClock()
	}
	return b.Clock()
}

func (b *Bot) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}
