// Package config loads roman's configuration: one optional YAML file, every
// field overridable by an environment variable ROMAN_…, and defaults that
// need no file at all.
//
// Precedence, lowest first: built-in defaults, the YAML file, environment
// variables, and, for one environment, its entry under `environments:` in the
// file. So ROMAN_EXECUTOR sets the executor of every environment that does
// not name its own.
//
// Naming: a top-level YAML key `foo_bar` is the variable ROMAN_FOO_BAR. The
// trigger thresholds live under `thresholds:` in the file (error_rate,
// recent_errors, db_connections, warn_error_rate, warn_p95_ms,
// warn_memory_percent) and are the variables ROMAN_<KEY>_THRESHOLD, e.g.
// ROMAN_ERROR_RATE_THRESHOLD. An empty variable counts as unset. See
// roman.example.yaml beside this file for every key.
//
// The plugins own their settings: executor.Config, health.SourceConfig and
// notify.ChannelConfig define them with their defaults and Validate methods.
// This package decodes their keys (which keep the flat names and variables
// above), composes them into EnvironmentConfig and reports their problems
// with the environment and variable that set them.
//
// Secrets (tokens, webhook URLs, database URLs) have the type roman.Secret,
// which prints as [REDACTED] everywhere; a Config can be logged whole.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/notify/githubdeploy"
	"github.com/odyssey-1/roman/retention"
)

// Auto-rollback modes: roll back automatically only inside the
// watch window, at any time, or never.
const (
	AutoRollbackWindow = "window"
	AutoRollbackAlways = "always"
	AutoRollbackNever  = "never"
)

// Defaults of the settings that have one.
const (
	DefaultDatabase           = "sqlite://roman.db"
	DefaultListen             = "127.0.0.1:8080"
	DefaultWatchWindow        = 5 * time.Minute
	DefaultVerifyWindow       = 60 * time.Second
	DefaultCooldown           = 10 * time.Minute
	DefaultMaxAutoRollbacks   = 3
	DefaultMonitorInterval    = time.Second
	DefaultLeaderInterval     = time.Second
	DefaultShutdownTimeout    = 25 * time.Second
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxIngestBodyBytes = 8 << 20
	DefaultMaxConnections     = 1000
	// DefaultRetention is how long error events and metric samples are
	// kept: 30 days.
	DefaultRetention         = retention.DefaultRetention
	DefaultMaxEnvironments   = 1000
	DefaultMaxServices       = 1000
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultDiscordAPIURL     = "https://discord.com/api/v10"
	DefaultAlertMaxAge       = 24 * time.Hour
	// DefaultAuthFailureBurst is how many failed authentications a client
	// address may make in a row (api.DefaultAuthFailureBurst).
	DefaultAuthFailureBurst = 10
	// DefaultAuthFailuresPerMinute is how many more a minute it may make
	// after that (api.DefaultAuthFailuresPerMinute).
	DefaultAuthFailuresPerMinute = 10
	// DefaultDashboardSessionsPerKey is how many dashboard sessions one API
	// key may hold (web.DefaultSessionsPerKey).
	DefaultDashboardSessionsPerKey = 20
)

// Config is roman's whole configuration. The embedded EnvironmentConfig holds
// the settings every environment starts from; Environment merges one
// environment's own settings on top.
type Config struct {
	// EnvironmentConfig is the default of every per-environment setting
	// (thresholds, executor, windows, auto_rollback, health sources).
	EnvironmentConfig `yaml:",inline"`

	// Database is roman's own store: sqlite:///abs/path, sqlite://rel/path,
	// a bare file path, or a postgres:// URL (ROMAN_DATABASE). It is a secret
	// because a PostgreSQL URL carries a password; see roman.ParseDatabaseURL and
	// RedactURL.
	Database roman.Secret `yaml:"database" json:"database"`
	// AppDatabase is the application's database, which snapshots inspect and
	// rollback scripts run against (ROMAN_APP_DATABASE). Empty means roman's
	// own database.
	AppDatabase roman.Secret `yaml:"app_database" json:"app_database"`
	// Listen is the HTTP listen address (ROMAN_LISTEN).
	Listen string `yaml:"listen" json:"listen"`
	// APIKeys are the configured API keys (ROMAN_API_KEYS as
	// "role:token,role:token", which replaces the file's list).
	APIKeys []APIKey `yaml:"api_keys" json:"api_keys"`
	// Constitution is the path of a constitution file whose rules are added
	// to the defaults (ROMAN_CONSTITUTION). Empty means the defaults only.
	Constitution string `yaml:"constitution" json:"constitution"`

	// MonitorInterval is the monitor's ticker period for time-based changes
	// and pulled sources (ROMAN_MONITOR_INTERVAL).
	MonitorInterval time.Duration `yaml:"monitor_interval" json:"monitor_interval"`
	// LeaderInterval is how often, on PostgreSQL, a replica that does not
	// lead the monitor tries to take over, and the leader checks that it
	// still leads (ROMAN_LEADER_INTERVAL; docs/scale-out.md).
	LeaderInterval time.Duration `yaml:"leader_interval" json:"leader_interval"`
	// ShutdownTimeout bounds a graceful shutdown as a whole: in-flight
	// requests, running rollbacks (which park for resume when it runs
	// out) and the rest share it (ROMAN_SHUTDOWN_TIMEOUT). The default
	// stays under Kubernetes' 30 s grace period.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" json:"shutdown_timeout"`
	// Retention is how long error events and metric samples are kept
	// (ROMAN_RETENTION, default 720h = 30 days): the monitor's leader
	// deletes older ones in small batches. Delivered and given-up alert
	// outbox rows are kept seven days; the audit tables are kept for good.
	Retention time.Duration `yaml:"retention" json:"retention"`
	// MaxEnvironments caps the distinct environments of deployments
	// (ROMAN_MAX_ENVIRONMENTS): recording a deployment that would open one
	// more is refused with 422 and nothing is written.
	MaxEnvironments int `yaml:"max_environments" json:"max_environments"`
	// MaxServices caps the distinct services of deployments
	// (ROMAN_MAX_SERVICES), like MaxEnvironments.
	MaxServices int `yaml:"max_services" json:"max_services"`

	// The alert channels (discord_webhook_url, slack_webhook_url,
	// alert_webhook_url, alert_webhook_secret, alert_routes) are
	// per-environment settings: see EnvironmentConfig.Alerts.

	// AlertMaxAge is how long the sender retries an alert that cannot be
	// delivered before giving up with a roman_events row
	// (ROMAN_ALERT_MAX_AGE).
	AlertMaxAge time.Duration `yaml:"alert_max_age" json:"alert_max_age"`
	// DiscordPublicKey is the Discord application's Ed25519 public key in hex,
	// used to verify interactions (ROMAN_DISCORD_PUBLIC_KEY). Empty disables
	// the interactions endpoint.
	DiscordPublicKey string `yaml:"discord_public_key" json:"discord_public_key"`
	// DiscordApplicationID is the application whose commands `roman discord
	// register` registers (ROMAN_DISCORD_APPLICATION_ID).
	DiscordApplicationID string `yaml:"discord_application_id" json:"discord_application_id"`
	// DiscordBotToken authenticates `roman discord register`
	// (ROMAN_DISCORD_BOT_TOKEN).
	DiscordBotToken roman.Secret `yaml:"discord_bot_token" json:"discord_bot_token"`
	// DiscordAPIURL is Discord's REST API base URL, configurable for tests
	// (ROMAN_DISCORD_API_URL).
	DiscordAPIURL string `yaml:"discord_api_url" json:"discord_api_url"`
	// DiscordApprovers are the Discord users or roles allowed to approve
	// rollbacks (ROMAN_DISCORD_APPROVERS as "id,id=user-uuid,…").
	DiscordApprovers []DiscordApprover `yaml:"discord_approvers" json:"discord_approvers"`

	// MaxBodyBytes caps request bodies (ROMAN_MAX_BODY_BYTES; plain bytes or
	// a size such as 1MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes" json:"max_body_bytes"`
	// MaxIngestBodyBytes caps bodies of the ingest routes
	// (ROMAN_MAX_INGEST_BODY_BYTES).
	MaxIngestBodyBytes int64 `yaml:"max_ingest_body_bytes" json:"max_ingest_body_bytes"`

	// MaxConnections caps the HTTP connections open at once
	// (ROMAN_MAX_CONNECTIONS). The server lowers it at start when the
	// open-file limit leaves less room, and at the cap it closes idle
	// keep-alive connections to make room for new ones.
	MaxConnections int `yaml:"max_connections" json:"max_connections"`
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers (ROMAN_READ_HEADER_TIMEOUT).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" json:"read_header_timeout"`
	// BodyTimeout is how long a request body has to arrive once its
	// headers are in; a body still arriving then gets 408
	// (ROMAN_BODY_TIMEOUT).
	BodyTimeout time.Duration `yaml:"body_timeout" json:"body_timeout"`
	// WriteTimeout bounds the time from the end of a request's headers to
	// the end of its answer (ROMAN_WRITE_TIMEOUT). The dashboard's live
	// stream is exempt, and a rollback's wait for its executor too.
	WriteTimeout time.Duration `yaml:"write_timeout" json:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request (ROMAN_IDLE_TIMEOUT).
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// AuthFailureBurst is how many failed authentications (wrong API keys,
	// wrong dashboard sign-ins) one client address may make in a row before
	// it is answered 429 (ROMAN_AUTH_FAILURE_BURST).
	AuthFailureBurst int `yaml:"auth_failure_burst" json:"auth_failure_burst"`
	// AuthFailuresPerMinute is how fast that allowance comes back
	// (ROMAN_AUTH_FAILURES_PER_MINUTE).
	AuthFailuresPerMinute int `yaml:"auth_failures_per_minute" json:"auth_failures_per_minute"`
	// TrustedProxies lists the reverse proxies (IP addresses or CIDR
	// prefixes) whose X-Forwarded-For roman believes: for a connection from
	// one of them, the client address that failed authentications are
	// limited by is the rightmost X-Forwarded-For entry that is not itself a
	// trusted proxy (ROMAN_TRUSTED_PROXIES, comma-separated). Empty: the
	// header is never trusted.
	TrustedProxies []string `yaml:"trusted_proxies" json:"trusted_proxies,omitempty"`
	// DashboardSessionsPerKey caps the dashboard sessions of one API key;
	// signing in once more ends that key's oldest session
	// (ROMAN_DASHBOARD_SESSIONS_PER_KEY).
	DashboardSessionsPerKey int `yaml:"dashboard_sessions_per_key" json:"dashboard_sessions_per_key"`

	// LogLevel is debug, info, warn or error (ROMAN_LOG_LEVEL).
	LogLevel string `yaml:"log_level" json:"log_level"`
	// LogFormat is text or json (ROMAN_LOG_FORMAT).
	LogFormat string `yaml:"log_format" json:"log_format"`
	// PublicURL is the URL people reach roman at, used in the links roman
	// sends elsewhere (a GitHub deployment status links to the dashboard's
	// explain page) (ROMAN_PUBLIC_URL). Empty means http://<listen>.
	PublicURL string `yaml:"public_url" json:"public_url"`

	// Sentry configures the Sentry integration (POST /integrations/sentry).
	Sentry SentryConfig `yaml:"sentry" json:"sentry"`

	// Environments holds, per environment name, the merged settings of the
	// environments the file names (defaults, then environment variables, then
	// the file's `environments.<name>` entry). Use Environment to read one.
	Environments map[string]EnvironmentConfig `yaml:"environments" json:"environments"`
}

// EnvironmentConfig is the set of settings that may differ per environment.
type EnvironmentConfig struct {
	// Thresholds are the trigger and warning limits of the health rules.
	Thresholds roman.Thresholds `yaml:"thresholds" json:"thresholds"`
	// AutoRollback is window, always or never (ROMAN_AUTO_ROLLBACK).
	AutoRollback string `yaml:"auto_rollback" json:"auto_rollback"`
	// WatchWindow is how long after completion a deployment is watched
	// (ROMAN_WATCH_WINDOW).
	WatchWindow time.Duration `yaml:"watch_window" json:"watch_window"`
	// VerifyWindow is how long a rolled-back system's health is watched
	// after the executor (ROMAN_VERIFY_WINDOW); 0 is one immediate check.
	VerifyWindow time.Duration `yaml:"verify_window" json:"verify_window"`
	// Cooldown is the pause of automatic rollbacks in an environment after a
	// rollback there (ROMAN_COOLDOWN).
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
	// MaxAutoRollbacks is how many automatic rollbacks in a row an
	// environment may have before a human must act (ROMAN_MAX_AUTO_ROLLBACKS).
	MaxAutoRollbacks int `yaml:"max_auto_rollbacks" json:"max_auto_rollbacks"`
	// ConsecutiveBreaches is how many consecutive breaching samples of a
	// pulled signal fire a trigger (ROMAN_CONSECUTIVE_BREACHES).
	ConsecutiveBreaches int `yaml:"consecutive_breaches" json:"consecutive_breaches"`

	// Judge are the judge's settings: judge (threshold or baseline,
	// ROMAN_JUDGE), judge_shadow, baseline_window, max_ratio,
	// false_positive_rate, min_errors, min_requests and extend
	// (ROMAN_<KEY>).
	Judge roman.JudgeSettings `yaml:",inline" json:"judge"`

	// Executor is the environment's executor (executor, executor_command,
	// executor_timeout, executor_webhook_*, executor_github_*), which the
	// executor package defines and validates.
	Executor executor.Config `yaml:",inline" json:"executor"`

	// HealthSources are the sources health is computed from
	// (ROMAN_HEALTH_SOURCES as "builtin,postgres,probe=http://…"), each
	// defined and validated by the health package. The default is the
	// built-in source alone.
	HealthSources []health.SourceConfig `yaml:"health_sources" json:"health_sources"`

	// AlertTriggers are the names (alertname) of the Alertmanager alerts
	// that are rollback triggers in the environment (ROMAN_ALERT_TRIGGERS,
	// a comma-separated list, sets every environment's default). An alert
	// labelled roman_trigger="true" is a trigger too; any other firing
	// alert is a warning.
	AlertTriggers []string `yaml:"alert_triggers" json:"alert_triggers"`

	// Alerts are the environment's alert channels and routes
	// (discord_webhook_url, slack_webhook_url, alert_webhook_url,
	// alert_webhook_secret, alert_routes), which the notify package defines
	// and validates.
	Alerts notify.ChannelConfig `yaml:",inline" json:"alerts"`

	// GitHubDeployments mirrors the environment's releases to GitHub
	// deployments and their statuses (github_deployments_repository,
	// github_deployments_token, github_deployments_api_url), which the
	// githubdeploy package defines and validates.
	GitHubDeployments githubdeploy.Config `yaml:",inline" json:"github_deployments"`
}

// RomanURL returns PublicURL, or http://<listen> when it is not set.
func (c *Config) RomanURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.Listen
}

// APIKey is one configured API key.
type APIKey struct {
	// Name labels the key in logs and the audit trail.
	Name string `yaml:"name" json:"name"`
	// Role is read, deploy, rollback or admin.
	Role string `yaml:"role" json:"role"`
	// Token is the bearer token itself.
	Token roman.Secret `yaml:"token" json:"token"`
}

// DiscordApprover is a Discord user or role allowed to approve rollbacks.
type DiscordApprover struct {
	// ID is a Discord user id or role id (a snowflake).
	ID string `yaml:"id" json:"id"`
	// UserID is the uuid recorded as initiated_by for this approver; empty
	// leaves initiated_by to the server's choice.
	UserID string `yaml:"user_id" json:"user_id"`
	// Admin lets this approver use override:true, like an API key of role
	// admin (ROMAN_DISCORD_APPROVERS items "id:admin" or "id=uuid:admin").
	Admin bool `yaml:"admin" json:"admin"`
}

// Default returns the configuration used when there is no file and no
// environment variable: SQLite in ./roman.db, 127.0.0.1:8080, the seed's
// thresholds and windows, the none executor and no keys (the server then
// creates an admin key on first start).
func Default() *Config {
	return &Config{
		EnvironmentConfig:       DefaultEnvironment(),
		Database:                DefaultDatabase,
		Listen:                  DefaultListen,
		MonitorInterval:         DefaultMonitorInterval,
		LeaderInterval:          DefaultLeaderInterval,
		ShutdownTimeout:         DefaultShutdownTimeout,
		Retention:               DefaultRetention,
		MaxEnvironments:         DefaultMaxEnvironments,
		MaxServices:             DefaultMaxServices,
		AlertMaxAge:             DefaultAlertMaxAge,
		DiscordAPIURL:           DefaultDiscordAPIURL,
		MaxBodyBytes:            DefaultMaxBodyBytes,
		MaxIngestBodyBytes:      DefaultMaxIngestBodyBytes,
		MaxConnections:          DefaultMaxConnections,
		ReadHeaderTimeout:       DefaultReadHeaderTimeout,
		BodyTimeout:             DefaultBodyTimeout,
		WriteTimeout:            DefaultWriteTimeout,
		IdleTimeout:             DefaultIdleTimeout,
		AuthFailureBurst:        DefaultAuthFailureBurst,
		AuthFailuresPerMinute:   DefaultAuthFailuresPerMinute,
		DashboardSessionsPerKey: DefaultDashboardSessionsPerKey,
		LogLevel:                "info",
		LogFormat:               "text",
		Environments:            map[string]EnvironmentConfig{},
	}
}

// DefaultEnvironment returns the built-in per-environment settings.
func DefaultEnvironment() EnvironmentConfig {
	return EnvironmentConfig{
		Thresholds:          roman.DefaultThresholds(),
		AutoRollback:        AutoRollbackWindow,
		WatchWindow:         DefaultWatchWindow,
		VerifyWindow:        DefaultVerifyWindow,
		Cooldown:            DefaultCooldown,
		MaxAutoRollbacks:    DefaultMaxAutoRollbacks,
		ConsecutiveBreaches: 1,
		Judge:               roman.DefaultJudgeSettings(),
		Executor:            executor.DefaultConfig(),
		HealthSources:       health.DefaultSources(),
	}
}

// Load reads the configuration: defaults, then the YAML file at path, then
// environment variables read through getenv. An empty path means the file
// named by ROMAN_CONFIG, or no file. A nil getenv means os.Getenv. The result
// is validated; the error names every bad field with its YAML key and
// variable, and never shows a secret.
func Load(path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if path == "" {
		path = getenv("ROMAN_CONFIG")
	}
	cfg := Default()
	var envFile map[string]environmentNodes
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("config: file %s does not exist", path)
			}
			return nil, fmt.Errorf("config: %w", err)
		}
		envFile, err = cfg.applyYAML(data)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.buildEnvironments(envFile); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Environment returns the settings of one environment: its own entry when the
// file names it, otherwise the defaults every environment shares. The result
// is a copy the caller may change.
func (c *Config) Environment(name string) EnvironmentConfig {
	e, ok := c.Environments[name]
	if !ok {
		e = c.EnvironmentConfig
	}
	e.HealthSources = append([]health.SourceConfig(nil), e.HealthSources...)
	return e
}

// DatabaseDriver returns the dialect of Database (sqlite or postgres) and the
// string to open, as roman.ParseDatabaseURL does.
func (c *Config) DatabaseDriver() (driver, dsn string, err error) {
	return roman.ParseDatabaseURL(c.Database.Value())
}

// KeyRecords returns the configured API keys as roman.APIKey records holding
// only the token hashes, ready for a roman.Keyring.
func (c *Config) KeyRecords() []roman.APIKey {
	out := make([]roman.APIKey, 0, len(c.APIKeys))
	for _, k := range c.APIKeys {
		role, _ := roman.ParseRole(k.Role)
		out = append(out, roman.APIKey{Name: k.Name, Role: role, Hash: roman.HashKey(k.Token.Value())})
	}
	return out
}

// SlogLevel returns LogLevel as a slog.Level.
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
