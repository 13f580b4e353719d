package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
)

// setting is one configurable field of a T (a *Config, *EnvironmentConfig or
// *roman.Thresholds): its YAML key, its environment variable and how to set
// it from text. One table serves the file and the environment, so both parse
// and report errors alike.
type setting[T any] struct {
	key string
	env string
	// set parses a scalar (file value or environment variable).
	set func(t T, v string) error
	// node, when set, parses a non-scalar YAML value (a list or mapping).
	node func(t T, n *yaml.Node) error
}

func envName(key string) string { return "ROMAN_" + strings.ToUpper(key) }

func stringSetting[T any](key string, f func(T) *string) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error { *f(t) = v; return nil }}
}

func secretSetting[T any](key string, f func(T) *roman.Secret) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error { *f(t) = roman.Secret(v); return nil }}
}

func durationSetting[T any](key string, f func(T) *time.Duration) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want a Go duration such as 90s, 5m or 1h30m)", v)
		}
		*f(t) = d
		return nil
	}}
}

func intSetting[T any](key string, f func(T) *int) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("invalid integer %q", v)
		}
		*f(t) = n
		return nil
	}}
}

func sizeSetting[T any](key string, f func(T) *int64) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*f(t) = n
		return nil
	}}
}

func boolSetting[T any](key string, f func(T) *bool) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", v)
		}
		*f(t) = b
		return nil
	}}
}

func floatSetting[T any](key string, f func(T) *float64) setting[T] {
	return setting[T]{key: key, env: envName(key), set: func(t T, v string) error {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("invalid number %q", v)
		}
		*f(t) = x
		return nil
	}}
}

func thresholdSetting(key string, f func(*roman.Thresholds) *float64) setting[*roman.Thresholds] {
	return setting[*roman.Thresholds]{key: key, env: envName(key) + "_THRESHOLD", set: func(t *roman.Thresholds, v string) error {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("invalid number %q", v)
		}
		*f(t) = x
		return nil
	}}
}

// globalSettings are the settings that exist once per server.
func globalSettings() []setting[*Config] {
	return []setting[*Config]{
		secretSetting("database", func(c *Config) *roman.Secret { return &c.Database }),
		secretSetting("app_database", func(c *Config) *roman.Secret { return &c.AppDatabase }),
		stringSetting("listen", func(c *Config) *string { return &c.Listen }),
		{key: "api_keys", env: "ROMAN_API_KEYS", set: func(c *Config, v string) error {
			keys, err := parseAPIKeys(v)
			if err != nil {
				return err
			}
			c.APIKeys = keys
			return nil
		}, node: func(c *Config, n *yaml.Node) error {
			var keys []APIKey
			if err := decodeStrict(n, &keys, "name", "role", "token"); err != nil {
				return err
			}
			for i := range keys {
				if keys[i].Name == "" {
					keys[i].Name = fmt.Sprintf("config-%d", i+1)
				}
			}
			c.APIKeys = keys
			return nil
		}},
		stringSetting("constitution", func(c *Config) *string { return &c.Constitution }),
		durationSetting("monitor_interval", func(c *Config) *time.Duration { return &c.MonitorInterval }),
		durationSetting("leader_interval", func(c *Config) *time.Duration { return &c.LeaderInterval }),
		durationSetting("shutdown_timeout", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
		durationSetting("retention", func(c *Config) *time.Duration { return &c.Retention }),
		intSetting("max_environments", func(c *Config) *int { return &c.MaxEnvironments }),
		intSetting("max_services", func(c *Config) *int { return &c.MaxServices }),
		durationSetting("alert_max_age", func(c *Config) *time.Duration { return &c.AlertMaxAge }),
		stringSetting("discord_public_key", func(c *Config) *string { return &c.DiscordPublicKey }),
		stringSetting("discord_application_id", func(c *Config) *string { return &c.DiscordApplicationID }),
		secretSetting("discord_bot_token", func(c *Config) *roman.Secret { return &c.DiscordBotToken }),
		stringSetting("discord_api_url", func(c *Config) *string { return &c.DiscordAPIURL }),
		{key: "discord_approvers", env: "ROMAN_DISCORD_APPROVERS", set: func(c *Config, v string) error {
			c.DiscordApprovers = parseApprovers(splitList(v))
			return nil
		}, node: func(c *Config, n *yaml.Node) error {
			out, err := approversNode(n)
			if err != nil {
				return err
			}
			c.DiscordApprovers = out
			return nil
		}},
		sizeSetting("max_body_bytes", func(c *Config) *int64 { return &c.MaxBodyBytes }),
		sizeSetting("max_ingest_body_bytes", func(c *Config) *int64 { return &c.MaxIngestBodyBytes }),
		intSetting("max_connections", func(c *Config) *int { return &c.MaxConnections }),
		durationSetting("read_header_timeout", func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }),
		durationSetting("body_timeout", func(c *Config) *time.Duration { return &c.BodyTimeout }),
		durationSetting("write_timeout", func(c *Config) *time.Duration { return &c.WriteTimeout }),
		durationSetting("idle_timeout", func(c *Config) *time.Duration { return &c.IdleTimeout }),
		intSetting("auth_failure_burst", func(c *Config) *int { return &c.AuthFailureBurst }),
		intSetting("auth_failures_per_minute", func(c *Config) *int { return &c.AuthFailuresPerMinute }),
		intSetting("dashboard_sessions_per_key", func(c *Config) *int { return &c.DashboardSessionsPerKey }),
		{key: "trusted_proxies", env: "ROMAN_TRUSTED_PROXIES", set: func(c *Config, v string) error {
			c.TrustedProxies = splitList(v)
			return nil
		}, node: func(c *Config, n *yaml.Node) error {
			var list []string
			if err := n.Decode(&list); err != nil {
				return fmt.Errorf("want a list of IP addresses or CIDR prefixes")
			}
			c.TrustedProxies = list
			return nil
		}},
		stringSetting("log_level", func(c *Config) *string { return &c.LogLevel }),
		stringSetting("log_format", func(c *Config) *string { return &c.LogFormat }),
		stringSetting("public_url", func(c *Config) *string { return &c.PublicURL }),
		{key: "sentry", node: func(c *Config, n *yaml.Node) error {
			return applyMapping(n, sentrySettings(), &c.Sentry, "sentry.")
		}},
		{key: "sentry.client_secret", env: "ROMAN_SENTRY_CLIENT_SECRET", set: func(c *Config, v string) error {
			c.Sentry.ClientSecret = roman.Secret(v)
			return nil
		}},
	}
}

// environmentSettings are the settings an environment may override. At the
// top level of the file and in ROMAN_… variables they set the defaults of
// every environment.
func environmentSettings() []setting[*EnvironmentConfig] {
	type E = *EnvironmentConfig
	return []setting[E]{
		{key: "thresholds", node: func(e E, n *yaml.Node) error {
			return applyMapping(n, thresholdSettings(), &e.Thresholds, "thresholds.")
		}},
		stringSetting("auto_rollback", func(e E) *string { return &e.AutoRollback }),
		durationSetting("watch_window", func(e E) *time.Duration { return &e.WatchWindow }),
		durationSetting("verify_window", func(e E) *time.Duration { return &e.VerifyWindow }),
		durationSetting("cooldown", func(e E) *time.Duration { return &e.Cooldown }),
		intSetting("max_auto_rollbacks", func(e E) *int { return &e.MaxAutoRollbacks }),
		intSetting("consecutive_breaches", func(e E) *int { return &e.ConsecutiveBreaches }),
		{key: "new_errors_min", env: "ROMAN_NEW_ERRORS_MIN", set: func(e E, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("invalid integer %q", v)
			}
			e.Thresholds.NewErrorsMin = n
			return nil
		}},
		stringSetting("new_errors_action", func(e E) *string { return &e.Thresholds.NewErrorsAction }),
		stringSetting("executor", func(e E) *string { return &e.Executor.Type }),
		stringSetting("executor_command", func(e E) *string { return &e.Executor.Command }),
		secretSetting("executor_webhook_url", func(e E) *roman.Secret { return &e.Executor.WebhookURL }),
		secretSetting("executor_webhook_secret", func(e E) *roman.Secret { return &e.Executor.WebhookSecret }),
		durationSetting("executor_timeout", func(e E) *time.Duration { return &e.Executor.Timeout }),
		stringSetting("executor_github_repository", func(e E) *string { return &e.Executor.GitHubRepository }),
		stringSetting("executor_github_workflow", func(e E) *string { return &e.Executor.GitHubWorkflow }),
		stringSetting("executor_github_ref", func(e E) *string { return &e.Executor.GitHubRef }),
		secretSetting("executor_github_token", func(e E) *roman.Secret { return &e.Executor.GitHubToken }),
		stringSetting("executor_github_api_url", func(e E) *string { return &e.Executor.GitHubAPIURL }),
		secretSetting("discord_webhook_url", func(e E) *roman.Secret { return &e.Alerts.DiscordWebhookURL }),
		secretSetting("slack_webhook_url", func(e E) *roman.Secret { return &e.Alerts.SlackWebhookURL }),
		secretSetting("alert_webhook_url", func(e E) *roman.Secret { return &e.Alerts.WebhookURL }),
		secretSetting("alert_webhook_secret", func(e E) *roman.Secret { return &e.Alerts.WebhookSecret }),
		stringSetting("github_deployments_repository", func(e E) *string { return &e.GitHubDeployments.Repository }),
		secretSetting("github_deployments_token", func(e E) *roman.Secret { return &e.GitHubDeployments.Token }),
		stringSetting("github_deployments_api_url", func(e E) *string { return &e.GitHubDeployments.APIURL }),
		{key: "alert_routes", env: "ROMAN_ALERT_ROUTES", set: func(e E, v string) error {
			routes, err := parseAlertRoutes(v)
			if err != nil {
				return err
			}
			e.Alerts.Routes = routes
			return nil
		}, node: func(e E, n *yaml.Node) error {
			var routes map[string][]string
			if err := n.Decode(&routes); err != nil {
				return fmt.Errorf("want a mapping of channel to a list of alert kinds")
			}
			e.Alerts.Routes = routes
			return nil
		}},
		{key: "alert_triggers", env: "ROMAN_ALERT_TRIGGERS", set: func(e E, v string) error {
			e.AlertTriggers = splitList(v)
			return nil
		}, node: func(e E, n *yaml.Node) error {
			var names []string
			if n.Kind != yaml.SequenceNode || n.Decode(&names) != nil {
				return fmt.Errorf("want a list of alert names")
			}
			e.AlertTriggers = names
			return nil
		}},
		stringSetting("judge", func(e E) *string { return &e.Judge.Judge }),
		boolSetting("judge_shadow", func(e E) *bool { return &e.Judge.Shadow }),
		durationSetting("baseline_window", func(e E) *time.Duration { return &e.Judge.BaselineWindow }),
		floatSetting("max_ratio", func(e E) *float64 { return &e.Judge.MaxRatio }),
		floatSetting("false_positive_rate", func(e E) *float64 { return &e.Judge.FalsePositiveRate }),
		{key: "min_errors", env: "ROMAN_MIN_ERRORS", set: func(e E, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("invalid integer %q", v)
			}
			e.Judge.MinErrors = n
			return nil
		}},
		floatSetting("min_requests", func(e E) *float64 { return &e.Judge.MinRequests }),
		durationSetting("extend", func(e E) *time.Duration { return &e.Judge.Extend }),
		{key: "health_sources", env: "ROMAN_HEALTH_SOURCES", set: func(e E, v string) error {
			e.HealthSources = parseHealthSources(splitList(v))
			return nil
		}, node: func(e E, n *yaml.Node) error {
			var out []health.SourceConfig
			if err := decodeStrict(n, &out, "type", "url", "queries", "timeout"); err != nil {
				return err
			}
			e.HealthSources = out
			return nil
		}},
	}
}

// thresholdSettings are the keys under `thresholds:`; their variables are
// ROMAN_<KEY>_THRESHOLD.
func thresholdSettings() []setting[*roman.Thresholds] {
	type T = *roman.Thresholds
	recent := setting[T]{key: "recent_errors", env: "ROMAN_RECENT_ERRORS_THRESHOLD", set: func(t T, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", v)
		}
		t.RecentErrors = n
		return nil
	}}
	return []setting[T]{
		thresholdSetting("error_rate", func(t T) *float64 { return &t.ErrorRate }),
		recent,
		thresholdSetting("db_connections", func(t T) *float64 { return &t.DBConnections }),
		thresholdSetting("warn_error_rate", func(t T) *float64 { return &t.WarnErrorRate }),
		thresholdSetting("warn_p95_ms", func(t T) *float64 { return &t.WarnP95MS }),
		thresholdSetting("warn_memory_percent", func(t T) *float64 { return &t.WarnMemoryPercent }),
	}
}

// environmentNodes keeps one `environments.<name>` mapping of the file until
// the defaults it is merged onto are final (after environment variables).
type environmentNodes struct {
	line int
	node *yaml.Node
}

// applyYAML applies the file's top-level keys to c and returns the
// per-environment entries for buildEnvironments.
func (c *Config) applyYAML(data []byte) (map[string]environmentNodes, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping of keys to values", root.Line)
	}
	global := indexSettings(globalSettings())
	env := indexSettings(environmentSettings())
	var envs map[string]environmentNodes
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value == "environments" {
			var err error
			if envs, err = environmentsNode(v); err != nil {
				return nil, err
			}
			continue
		}
		if s, ok := global[k.Value]; ok {
			if err := applyNode(s, c, v, ""); err != nil {
				return nil, err
			}
			continue
		}
		if s, ok := env[k.Value]; ok {
			if err := applyNode(s, &c.EnvironmentConfig, v, ""); err != nil {
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
	}
	return envs, nil
}

func environmentsNode(v *yaml.Node) (map[string]environmentNodes, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, nil
	}
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: environments: want a mapping of environment names to settings", v.Line)
	}
	out := map[string]environmentNodes{}
	for j := 0; j+1 < len(v.Content); j += 2 {
		name, body := v.Content[j], v.Content[j+1]
		if !roman.ValidEnvironment(name.Value) {
			return nil, fmt.Errorf("line %d: environments: invalid environment name %q (want [a-z0-9_-]{1,64})", name.Line, name.Value)
		}
		if _, dup := out[name.Value]; dup {
			return nil, fmt.Errorf("line %d: environments: %q appears twice", name.Line, name.Value)
		}
		out[name.Value] = environmentNodes{line: name.Line, node: body}
	}
	return out, nil
}

// applyEnv applies every ROMAN_… variable that is set and not empty.
func (c *Config) applyEnv(getenv func(string) string) error {
	if err := applyEnvTo(globalSettings(), c, getenv); err != nil {
		return err
	}
	if err := applyEnvTo(environmentSettings(), &c.EnvironmentConfig, getenv); err != nil {
		return err
	}
	return applyEnvTo(thresholdSettings(), &c.EnvironmentConfig.Thresholds, getenv)
}

func applyEnvTo[T any](settings []setting[T], t T, getenv func(string) string) error {
	for _, s := range settings {
		if s.set == nil || s.env == "" {
			continue
		}
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := s.set(t, v); err != nil {
			return fmt.Errorf("%s: %w", s.env, err)
		}
	}
	return nil
}

// buildEnvironments merges each file entry onto the final defaults.
func (c *Config) buildEnvironments(nodes map[string]environmentNodes) error {
	c.Environments = make(map[string]EnvironmentConfig, len(nodes))
	for name, n := range nodes {
		e := c.EnvironmentConfig
		e.HealthSources = append([]health.SourceConfig(nil), e.HealthSources...)
		if !(n.node.Kind == yaml.ScalarNode && n.node.Tag == "!!null") {
			if n.node.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: environments.%s: want a mapping of settings", n.line, name)
			}
			if err := applyMapping(n.node, environmentSettings(), &e, "environments."+name+"."); err != nil {
				return err
			}
		}
		c.Environments[name] = e
	}
	return nil
}

func indexSettings[T any](settings []setting[T]) map[string]setting[T] {
	m := make(map[string]setting[T], len(settings))
	for _, s := range settings {
		m[s.key] = s
	}
	return m
}

// applyMapping applies a YAML mapping through a settings table; prefix is
// the path of the mapping for error messages.
func applyMapping[T any](n *yaml.Node, settings []setting[T], t T, prefix string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping", n.Line, strings.TrimSuffix(prefix, "."))
	}
	idx := indexSettings(settings)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, ok := idx[k.Value]
		if !ok {
			return fmt.Errorf("line %d: unknown key %q in %s", k.Line, k.Value, strings.TrimSuffix(prefix, "."))
		}
		if err := applyNode(s, t, v, prefix); err != nil {
			return err
		}
	}
	return nil
}

// applyNode applies one YAML value through its setting.
func applyNode[T any](s setting[T], t T, v *yaml.Node, prefix string) error {
	var err error
	switch {
	case v.Kind == yaml.ScalarNode && s.set != nil:
		if v.Tag == "!!null" {
			return nil // "key:" with no value keeps the default
		}
		err = s.set(t, v.Value)
	case s.node != nil:
		err = s.node(t, v)
	default:
		err = fmt.Errorf("want a single value")
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "line ") {
			return err
		}
		return fmt.Errorf("line %d: %s%s: %w", v.Line, prefix, s.key, err)
	}
	return nil
}

// decodeStrict decodes a YAML node (a mapping, or a list of mappings) into
// out, refusing keys other than allowed so that a typo is an error rather
// than a silently ignored setting.
func decodeStrict(n *yaml.Node, out any, allowed ...string) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, item := range items {
		if item.Kind != yaml.MappingNode {
			continue // n.Decode reports the type mismatch
		}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k := item.Content[i]
			if !slices.Contains(allowed, k.Value) {
				return fmt.Errorf("line %d: unknown key %q (want one of %s)", k.Line, k.Value, strings.Join(allowed, ", "))
			}
		}
	}
	if err := n.Decode(out); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
		return fmt.Errorf("%s", strings.TrimSpace(msg))
	}
	return nil
}

// parseAPIKeys parses ROMAN_API_KEYS ("role:token,role:token"). Errors never
// include a token.
func parseAPIKeys(v string) ([]APIKey, error) {
	var keys []APIKey
	for i, item := range splitList(v) {
		role, token, ok := strings.Cut(item, ":")
		if !ok || token == "" {
			return nil, fmt.Errorf("entry %d is not role:token", i+1)
		}
		role = strings.TrimSpace(role)
		keys = append(keys, APIKey{Name: fmt.Sprintf("env-%d-%s", i+1, role), Role: role, Token: roman.Secret(token)})
	}
	return keys, nil
}

// parseAlertRoutes parses ROMAN_ALERT_ROUTES:
// "channel=kind|kind,channel=all,channel=" (an empty list mutes a channel).
func parseAlertRoutes(v string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, item := range splitList(v) {
		ch, kinds, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("entry %q is not channel=kind|kind", item)
		}
		list := []string{}
		for _, k := range strings.Split(kinds, "|") {
			if k = strings.TrimSpace(k); k != "" {
				list = append(list, k)
			}
		}
		out[strings.TrimSpace(ch)] = list
	}
	return out, nil
}

// parseApprovers parses "id" and "id=user-uuid" items, either of which may
// end in ":admin".
func parseApprovers(items []string) []DiscordApprover {
	out := make([]DiscordApprover, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		admin := strings.HasSuffix(item, ":admin")
		item = strings.TrimSuffix(item, ":admin")
		id, user, _ := strings.Cut(item, "=")
		out = append(out, DiscordApprover{ID: strings.TrimSpace(id), UserID: strings.TrimSpace(user), Admin: admin})
	}
	return out
}

// approversNode accepts a comma-separated string, or a list whose items are
// "id", "id=uuid" (either may end in ":admin") or {id, user_id, admin}.
func approversNode(n *yaml.Node) ([]DiscordApprover, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("want a list of Discord ids")
	}
	var out []DiscordApprover
	for _, item := range n.Content {
		switch item.Kind {
		case yaml.ScalarNode:
			out = append(out, parseApprovers([]string{item.Value})...)
		case yaml.MappingNode:
			var a DiscordApprover
			if err := decodeStrict(item, &a, "id", "user_id", "admin"); err != nil {
				return nil, err
			}
			out = append(out, a)
		default:
			return nil, fmt.Errorf("line %d: want an id or {id, user_id}", item.Line)
		}
	}
	return out, nil
}

// parseHealthSources parses "type" and "type=url" items.
func parseHealthSources(items []string) []health.SourceConfig {
	out := make([]health.SourceConfig, 0, len(items))
	for _, item := range items {
		typ, u, _ := strings.Cut(item, "=")
		out = append(out, health.SourceConfig{Type: strings.TrimSpace(typ), URL: roman.Secret(strings.TrimSpace(u))})
	}
	return out
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseSize parses a byte count: a plain integer or one with a unit (B, KB,
// MB, GB in powers of 1000; KiB, MiB, GiB in powers of 1024).
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB or GiB)", v)
	}
	return n * mult, nil
}
