package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/discord"
	"github.com/odyssey-1/roman/notify"
	notifydiscord "github.com/odyssey-1/roman/notify/discord"
	"github.com/odyssey-1/roman/notify/githubdeploy"
	"github.com/odyssey-1/roman/notify/slack"
	"github.com/odyssey-1/roman/notify/webhook"
)

// openAlerts routes alerts of decision rows to the channels each environment
// configures (the store writes them to the outbox in the row's transaction)
// and starts the sender that delivers the outbox.
func (m *Server) openAlerts() {
	cfg := m.Config
	m.Store.SetAlertRouter(notify.Router(func(env string) ([]string, map[string][]string) {
		e := cfg.Environment(env)
		return e.Alerts.Channels(), e.Alerts.Routes
	}))
	// GitHub deployments ride in the same outbox, on the channel "github"
	// (notify/githubdeploy); without a repository anywhere, events cost
	// nothing extra.
	if githubMirrored(cfg) {
		m.Store.SetOutboxMirror(githubdeploy.Mirror(func(env string) githubdeploy.Config {
			return cfg.Environment(env).GitHubDeployments
		}))
	}
	n := newNotifiers(cfg, m.Clock)
	n.store, n.logger = m.Store, m.Logger.With("component", "github_deployments")
	m.Alerts = &notify.Sender{Outbox: m.Store, Notifier: n.get, Clock: m.Clock,
		Logger: m.Logger.With("component", "alerts"), Hub: m.Hub, MaxAge: cfg.AlertMaxAge}
	m.Alerts.Start()
}

// githubMirrored reports whether any environment mirrors its releases to
// GitHub deployments.
func githubMirrored(cfg *config.Config) bool {
	if cfg.GitHubDeployments.Enabled() {
		return true
	}
	for _, e := range cfg.Environments {
		if e.GitHubDeployments.Enabled() {
			return true
		}
	}
	return false
}

// notifiers builds, once per environment and channel, the notifier of the
// URL that environment configures.
type notifiers struct {
	cfg   *config.Config
	clock roman.Clock
	http  *http.Client
	mu    sync.Mutex
	cache map[string]roman.Notifier
	// store and logger serve the GitHub deployments notifier.
	store  githubdeploy.Store
	logger *slog.Logger
}

func newNotifiers(cfg *config.Config, clock roman.Clock) *notifiers {
	return &notifiers{cfg: cfg, clock: clock, http: &http.Client{Timeout: notify.DefaultTimeout}, cache: map[string]roman.Notifier{}}
}

func (n *notifiers) get(channel, env string) roman.Notifier {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := channel + "\x00" + env
	if x, ok := n.cache[key]; ok {
		return x
	}
	c := n.cfg.Environment(env).Alerts
	var x roman.Notifier
	switch {
	case channel == roman.ChannelDiscord && c.DiscordWebhookURL.IsSet():
		x = notifydiscord.New(c.DiscordWebhookURL.Value(), n.http)
	case channel == roman.ChannelSlack && c.SlackWebhookURL.IsSet():
		x = slack.New(c.SlackWebhookURL.Value(), n.http)
	case channel == roman.ChannelWebhook && c.WebhookURL.IsSet():
		x = webhook.New(c.WebhookURL.Value(), c.WebhookSecret.Value(), n.http, n.clock)
	case channel == roman.ChannelGitHub && n.store != nil:
		if g := n.cfg.Environment(env).GitHubDeployments; g.Enabled() {
			gn, err := githubdeploy.New(g, n.store, n.http, n.cfg.RomanURL(), n.clock, n.logger)
			if err != nil {
				n.logger.Error("GitHub deployments are misconfigured", "environment", env, "err", err)
			} else {
				x = gn
			}
		}
	}
	n.cache[key] = x
	return x
}

// discordBot returns the Discord chat-ops bot when discord_public_key is
// set, else nil (POST /discord/interactions then answers 404).
func (m *Server) discordBot(rollbacks roman.RollbackService) (api.DiscordBot, error) {
	cfg := m.Config
	if cfg.DiscordPublicKey == "" {
		return nil, nil
	}
	key, err := discord.ParsePublicKey(cfg.DiscordPublicKey)
	if err != nil {
		return nil, fmt.Errorf("discord_public_key: %w", err)
	}
	approvers := make([]chatops.Approver, 0, len(cfg.DiscordApprovers))
	for _, a := range cfg.DiscordApprovers {
		approvers = append(approvers, chatops.Approver{ID: a.ID, UserID: a.UserID, Admin: a.Admin})
	}
	m.Discord = &chatops.Bot{Key: key, ApplicationID: cfg.DiscordApplicationID, Approvers: approvers,
		Rollbacks: rollbacks, Store: m.Store, Hub: m.Hub, Clock: m.Clock, Logger: m.Logger.With("component", "discord"),
		API: &discord.Client{BaseURL: cfg.DiscordAPIURL}}
	return m.Discord, nil
}

// closeAlerts lets Discord follow-ups write their last edit and the sender
// settle the deliveries in flight, until deadline (a share of the shutdown
// budget).
// Undelivered alerts stay in the outbox for the next start.
func (m *Server) closeAlerts(deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if m.Discord != nil {
		if err := m.Discord.Shutdown(ctx); err != nil {
			m.Logger.Warn("Discord follow-ups did not finish before shutdown", "err", err)
		}
		m.Discord = nil
	}
	if m.Alerts != nil {
		if err := m.Alerts.Close(ctx); err != nil {
			m.Logger.Warn("alert deliveries did not finish before shutdown", "err", err)
		}
		m.Alerts = nil
	}
}
