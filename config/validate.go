package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
)

// Validate checks every field and returns all problems at once, each naming
// its field by YAML key and, for top-level settings, environment variable.
// No message contains a secret's value.
func (c *Config) Validate() error {
	v := &validator{}
	if _, _, err := roman.ParseDatabaseURL(c.Database.Value()); err != nil {
		v.add("database", "ROMAN_DATABASE", "%s", roman.ErrorMessage(err))
	}
	if c.AppDatabase.IsSet() {
		if _, _, err := roman.ParseDatabaseURL(c.AppDatabase.Value()); err != nil {
			v.add("app_database", "ROMAN_APP_DATABASE", "%s", roman.ErrorMessage(err))
		}
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		v.add("listen", "ROMAN_LISTEN", "invalid address %q (want host:port, e.g. 127.0.0.1:8080 or :8080)", c.Listen)
	}
	seen := map[string]bool{}
	for i, k := range c.APIKeys {
		field := fmt.Sprintf("api_keys[%d]", i)
		if _, ok := roman.ParseRole(k.Role); !ok {
			v.add(field+".role", "ROMAN_API_KEYS", "unknown role %q (want read, deploy, rollback or admin)", k.Role)
		}
		if !k.Token.IsSet() {
			v.add(field+".token", "ROMAN_API_KEYS", "empty token")
		} else if n := len(k.Token.Value()); n < roman.MinKeyLength {
			v.add(field+".token", "ROMAN_API_KEYS", "the token of key %q has %d characters, fewer than the %d a key needs; %s",
				k.Name, n, roman.MinKeyLength, roman.GoodKeyAdvice)
		} else if seen[k.Token.Value()] {
			v.add(field+".token", "ROMAN_API_KEYS", "the same token is configured twice")
		}
		seen[k.Token.Value()] = true
	}
	if c.MonitorInterval <= 0 {
		v.add("monitor_interval", "ROMAN_MONITOR_INTERVAL", "must be positive, got %s", c.MonitorInterval)
	}
	if c.LeaderInterval <= 0 {
		v.add("leader_interval", "ROMAN_LEADER_INTERVAL", "must be positive, got %s", c.LeaderInterval)
	}
	if c.ShutdownTimeout < time.Second {
		v.add("shutdown_timeout", "ROMAN_SHUTDOWN_TIMEOUT", "must be at least 1s, got %s", c.ShutdownTimeout)
	}
	if c.AlertMaxAge <= 0 {
		v.add("alert_max_age", "ROMAN_ALERT_MAX_AGE", "must be positive, got %s", c.AlertMaxAge)
	}
	if c.DiscordAPIURL != "" && !roman.ValidHTTPURL(c.DiscordAPIURL) {
		v.add("discord_api_url", "ROMAN_DISCORD_API_URL", "not an http(s) URL")
	}
	if c.DiscordPublicKey != "" {
		if b, err := hex.DecodeString(c.DiscordPublicKey); err != nil || len(b) != 32 {
			v.add("discord_public_key", "ROMAN_DISCORD_PUBLIC_KEY", "want 64 hexadecimal digits (an Ed25519 public key)")
		}
	}
	for i, a := range c.DiscordApprovers {
		field := fmt.Sprintf("discord_approvers[%d]", i)
		if !isSnowflake(a.ID) {
			v.add(field, "ROMAN_DISCORD_APPROVERS", "invalid Discord id %q (want digits)", a.ID)
		}
		if a.UserID != "" && !roman.ValidUUID(a.UserID) {
			v.add(field+".user_id", "ROMAN_DISCORD_APPROVERS", "invalid uuid %q", a.UserID)
		}
	}
	if c.MaxBodyBytes <= 0 {
		v.add("max_body_bytes", "ROMAN_MAX_BODY_BYTES", "must be positive, got %d", c.MaxBodyBytes)
	}
	if c.MaxIngestBodyBytes <= 0 {
		v.add("max_ingest_body_bytes", "ROMAN_MAX_INGEST_BODY_BYTES", "must be positive, got %d", c.MaxIngestBodyBytes)
	}
	if c.Retention < time.Hour {
		v.add("retention", "ROMAN_RETENTION", "must be at least 1h, got %s", c.Retention)
	}
	if c.MaxEnvironments < 1 {
		v.add("max_environments", "ROMAN_MAX_ENVIRONMENTS", "must be at least 1, got %d", c.MaxEnvironments)
	}
	if c.MaxServices < 1 {
		v.add("max_services", "ROMAN_MAX_SERVICES", "must be at least 1, got %d", c.MaxServices)
	}
	if c.MaxConnections < 1 {
		v.add("max_connections", "ROMAN_MAX_CONNECTIONS", "must be at least 1, got %d", c.MaxConnections)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"read_header_timeout", c.ReadHeaderTimeout}, {"body_timeout", c.BodyTimeout}, {"write_timeout", c.WriteTimeout}, {"idle_timeout", c.IdleTimeout}} {
		if d.d <= 0 {
			v.add(d.key, envName(d.key), "must be positive, got %v", d.d)
		}
	}
	if c.AuthFailureBurst <= 0 {
		v.add("auth_failure_burst", "ROMAN_AUTH_FAILURE_BURST", "must be positive, got %d", c.AuthFailureBurst)
	}
	if c.AuthFailuresPerMinute <= 0 {
		v.add("auth_failures_per_minute", "ROMAN_AUTH_FAILURES_PER_MINUTE", "must be positive, got %d", c.AuthFailuresPerMinute)
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		v.add("trusted_proxies", "ROMAN_TRUSTED_PROXIES", "%v", err)
	}
	if c.DashboardSessionsPerKey <= 0 {
		v.add("dashboard_sessions_per_key", "ROMAN_DASHBOARD_SESSIONS_PER_KEY", "must be positive, got %d", c.DashboardSessionsPerKey)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.add("log_level", "ROMAN_LOG_LEVEL", "unknown level %q (want debug, info, warn or error)", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		v.add("log_format", "ROMAN_LOG_FORMAT", "unknown format %q (want text or json)", c.LogFormat)
	}

	v.environment("", &c.EnvironmentConfig)
	names := make([]string, 0, len(c.Environments))
	for name := range c.Environments {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !roman.ValidEnvironment(name) {
			v.errs = append(v.errs, fmt.Errorf("config: environments: invalid environment name %q (want [a-z0-9_-]{1,64})", name))
			continue
		}
		e := c.Environments[name]
		v.environment("environments."+name+".", &e)
	}
	return errors.Join(v.errs...)
}

// validator collects field errors.
type validator struct {
	errs []error
	// prefix is "" for the defaults and "environments.<name>." inside one.
	prefix string
}

// add records a problem of field; env is the variable that sets it, shown
// only for top-level fields.
func (v *validator) add(field, env, format string, args ...any) {
	name := v.prefix + field
	if v.prefix == "" && env != "" {
		name += " (" + env + ")"
	}
	v.errs = append(v.errs, fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, args...)))
}

// plugin records the problems a plugin's Validate found, each named by the
// plugin's field under prefix, the key that holds the plugin's settings
// ("" for flat keys such as executor_command).
func (v *validator) plugin(prefix string, err error) {
	for _, fe := range roman.FieldErrors(err) {
		field := prefix + fe.Field
		if field == "" {
			where := "config: "
			if v.prefix != "" {
				where += strings.TrimSuffix(v.prefix, ".") + ": "
			}
			v.errs = append(v.errs, errors.New(where+fe.Message))
			continue
		}
		v.add(field, envOf(field), "%s", fe.Message)
	}
}

// envOf returns the variable that sets a per-environment field, or "" when
// none does: ROMAN_HEALTH_SOURCES gives only each source's type and url.
func envOf(field string) string {
	if t, ok := strings.CutPrefix(field, "thresholds."); ok {
		return "ROMAN_" + strings.ToUpper(t) + "_THRESHOLD"
	}
	key := field
	if i := strings.IndexAny(key, "[."); i >= 0 {
		key = key[:i]
	}
	s, ok := indexSettings(environmentSettings())[key]
	if !ok {
		return ""
	}
	if key == "health_sources" && field != key && !strings.HasSuffix(field, ".type") && !strings.HasSuffix(field, ".url") {
		return ""
	}
	return s.env
}

// environment checks one set of per-environment settings: the monitor's
// settings config owns (auto-rollback mode, windows, cooldown, caps) here,
// the thresholds, executor, alert channels and health sources through their
// own Validate methods.
func (v *validator) environment(prefix string, e *EnvironmentConfig) {
	v.prefix = prefix
	defer func() { v.prefix = "" }()

	v.plugin("", e.Thresholds.Validate())

	switch e.AutoRollback {
	case AutoRollbackWindow, AutoRollbackAlways, AutoRollbackNever:
	default:
		v.add("auto_rollback", "ROMAN_AUTO_ROLLBACK", "unknown mode %q (want window, always or never)", e.AutoRollback)
	}
	if e.WatchWindow <= 0 {
		v.add("watch_window", "ROMAN_WATCH_WINDOW", "must be positive, got %s", e.WatchWindow)
	}
	if e.VerifyWindow < 0 {
		v.add("verify_window", "ROMAN_VERIFY_WINDOW", "must not be negative, got %s", e.VerifyWindow)
	}
	if e.Cooldown < 0 {
		v.add("cooldown", "ROMAN_COOLDOWN", "must not be negative, got %s", e.Cooldown)
	}
	if e.MaxAutoRollbacks < 1 {
		v.add("max_auto_rollbacks", "ROMAN_MAX_AUTO_ROLLBACKS", "must be at least 1, got %d (use auto_rollback: never to disable)", e.MaxAutoRollbacks)
	}
	if e.ConsecutiveBreaches < 1 {
		v.add("consecutive_breaches", "ROMAN_CONSECUTIVE_BREACHES", "must be at least 1, got %d", e.ConsecutiveBreaches)
	}
	v.plugin("", e.Judge.Validate())
	v.plugin("", e.Executor.Validate())
	v.plugin("", e.Alerts.Validate())
	v.plugin("", e.GitHubDeployments.Validate())
	v.plugin("health_sources", health.ValidateSources(e.HealthSources))
	for i, name := range e.AlertTriggers {
		if strings.TrimSpace(name) == "" || len(name) > 256 {
			v.add("alert_triggers", "ROMAN_ALERT_TRIGGERS", "item %d must be an alert name of 1 to 256 characters", i+1)
		}
	}
}

func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ParseTrustedProxies parses trusted_proxies: IP addresses (a /32 or /128)
// and CIDR prefixes, IPv4-mapped IPv6 addresses unmapped.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
