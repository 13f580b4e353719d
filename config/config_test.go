package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
	"github.com/odyssey-1/roman/health"
)

// env returns a getenv reading from m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsNeedNoFile(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load with nothing set differs from Default():\n%#v\n%#v", cfg, Default())
	}
	driver, dsn, err := cfg.DatabaseDriver()
	if err != nil || driver != roman.DialectSQLite || dsn != "roman.db" {
		t.Errorf("DatabaseDriver = %q, %q, %v; want sqlite, roman.db", driver, dsn, err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, "127.0.0.1:8080"},
		{"watch_window", cfg.WatchWindow, 5 * time.Minute},
		{"verify_window", cfg.VerifyWindow, 60 * time.Second},
		{"cooldown", cfg.Cooldown, 10 * time.Minute},
		{"executor", cfg.Executor.Type, "none"},
		{"executor_timeout", cfg.Executor.Timeout, 10 * time.Minute},
		{"auto_rollback", cfg.AutoRollback, "window"},
		{"thresholds", cfg.Thresholds, roman.DefaultThresholds()},
		{"max_body_bytes", cfg.MaxBodyBytes, int64(1 << 20)},
		{"max_ingest_body_bytes", cfg.MaxIngestBodyBytes, int64(8 << 20)},
		{"max_connections", cfg.MaxConnections, 1000},
		{"read_header_timeout", cfg.ReadHeaderTimeout, 10 * time.Second},
		{"body_timeout", cfg.BodyTimeout, 30 * time.Second},
		{"write_timeout", cfg.WriteTimeout, 60 * time.Second},
		{"idle_timeout", cfg.IdleTimeout, 60 * time.Second},
		{"log_level", cfg.LogLevel, "info"},
		{"api_keys", len(cfg.APIKeys), 0},
		{"app_database", cfg.AppDatabase.IsSet(), false},
		{"health_sources", cfg.HealthSources, []health.SourceConfig{{Type: health.SourceBuiltin}}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		env   string
		value string
		check func(c *Config) bool
	}{
		{"ROMAN_DATABASE", "postgres://u:p@db:5432/roman", func(c *Config) bool { return c.Database.Value() == "postgres://u:p@db:5432/roman" }},
		{"ROMAN_LISTEN", ":9090", func(c *Config) bool { return c.Listen == ":9090" }},
		{"ROMAN_NEW_ERRORS_MIN", "25", func(c *Config) bool { return c.Thresholds.NewErrorsMin == 25 }},
		{"ROMAN_NEW_ERRORS_ACTION", "rollback", func(c *Config) bool { return c.Thresholds.NewErrorsAction == roman.NewErrorsRollback }},
		{"ROMAN_WATCH_WINDOW", "90s", func(c *Config) bool { return c.WatchWindow == 90*time.Second }},
		{"ROMAN_VERIFY_WINDOW", "0s", func(c *Config) bool { return c.VerifyWindow == 0 }},
		{"ROMAN_COOLDOWN", "1h", func(c *Config) bool { return c.Cooldown == time.Hour }},
		{"ROMAN_EXECUTOR", "command", func(c *Config) bool { return c.Executor.Type == executor.TypeCommand }},
		{"ROMAN_EXECUTOR_TIMEOUT", "30s", func(c *Config) bool { return c.Executor.Timeout == 30*time.Second }},
		{"ROMAN_EXECUTOR_WEBHOOK_URL", "https://hook.example/x", func(c *Config) bool { return c.Executor.WebhookURL.Value() == "https://hook.example/x" }},
		{"ROMAN_CONSTITUTION", "/etc/roman/rules.yaml", func(c *Config) bool { return c.Constitution == "/etc/roman/rules.yaml" }},
		{"ROMAN_APP_DATABASE", "postgres://app@db/app", func(c *Config) bool { return c.AppDatabase.Value() == "postgres://app@db/app" }},
		{"ROMAN_DISCORD_WEBHOOK_URL", "https://discord.example/api/webhooks/1/x", func(c *Config) bool { return c.Alerts.DiscordWebhookURL.IsSet() }},
		{"ROMAN_SLACK_WEBHOOK_URL", "https://hooks.slack.example/x", func(c *Config) bool { return c.Alerts.SlackWebhookURL.IsSet() }},
		{"ROMAN_DISCORD_PUBLIC_KEY", strings.Repeat("ab", 32), func(c *Config) bool { return c.DiscordPublicKey == strings.Repeat("ab", 32) }},
		{"ROMAN_DISCORD_APPROVERS", "111, 222=6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01", func(c *Config) bool {
			return reflect.DeepEqual(c.DiscordApprovers, []DiscordApprover{{ID: "111"}, {ID: "222", UserID: "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01"}})
		}},
		{"ROMAN_ERROR_RATE_THRESHOLD", "2.5", func(c *Config) bool { return c.Thresholds.ErrorRate == 2.5 }},
		{"ROMAN_RECENT_ERRORS_THRESHOLD", "20", func(c *Config) bool { return c.Thresholds.RecentErrors == 20 }},
		{"ROMAN_DB_CONNECTIONS_THRESHOLD", "75", func(c *Config) bool { return c.Thresholds.DBConnections == 75 }},
		{"ROMAN_AUTO_ROLLBACK", "never", func(c *Config) bool { return c.AutoRollback == AutoRollbackNever }},
		{"ROMAN_MAX_BODY_BYTES", "2MiB", func(c *Config) bool { return c.MaxBodyBytes == 2<<20 }},
		{"ROMAN_MAX_INGEST_BODY_BYTES", "1000000", func(c *Config) bool { return c.MaxIngestBodyBytes == 1e6 }},
		{"ROMAN_MAX_CONNECTIONS", "200", func(c *Config) bool { return c.MaxConnections == 200 }},
		{"ROMAN_BODY_TIMEOUT", "5s", func(c *Config) bool { return c.BodyTimeout == 5*time.Second }},
		{"ROMAN_WRITE_TIMEOUT", "2m", func(c *Config) bool { return c.WriteTimeout == 2*time.Minute }},
		{"ROMAN_IDLE_TIMEOUT", "30s", func(c *Config) bool { return c.IdleTimeout == 30*time.Second }},
		{"ROMAN_READ_HEADER_TIMEOUT", "3s", func(c *Config) bool { return c.ReadHeaderTimeout == 3*time.Second }},
		{"ROMAN_LOG_LEVEL", "debug", func(c *Config) bool { return c.LogLevel == "debug" }},
		{"ROMAN_HEALTH_SOURCES", "builtin,probe=http://app/healthz", func(c *Config) bool {
			return len(c.HealthSources) == 2 && c.HealthSources[1].Type == health.SourceProbe && c.HealthSources[1].URL.Value() == "http://app/healthz"
		}},
		{"ROMAN_API_KEYS", "read:r-token-0123456789, admin:a:token:with:colons:0123456789", func(c *Config) bool {
			return len(c.APIKeys) == 2 && c.APIKeys[0].Role == "read" && c.APIKeys[0].Token.Value() == "r-token-0123456789" &&
				c.APIKeys[1].Role == "admin" && c.APIKeys[1].Token.Value() == "a:token:with:colons:0123456789"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			vars := map[string]string{tt.env: tt.value}
			if tt.env == "ROMAN_EXECUTOR" {
				vars["ROMAN_EXECUTOR_COMMAND"] = "./deploy.sh"
			}
			cfg, err := Load("", env(vars))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("%s=%s not applied", tt.env, tt.value)
			}
		})
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "roman.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleFileLoads(t *testing.T) {
	cfg, err := Load("roman.example.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.APIKeys) != 2 || cfg.APIKeys[0].Name != "github-actions" || cfg.APIKeys[1].Role != "admin" {
		t.Errorf("api_keys = %+v", cfg.APIKeys)
	}
	prod := cfg.Environment("production")
	if prod.Thresholds.ErrorRate != 3 || prod.Thresholds.RecentErrors != 50 {
		t.Errorf("production thresholds = %+v, want error_rate 3 and the rest inherited", prod.Thresholds)
	}
	if prod.Executor.Type != executor.TypeWebhook || prod.WatchWindow != 10*time.Minute || len(prod.HealthSources) != 3 {
		t.Errorf("production = %+v", prod)
	}
	if prod.HealthSources[1].Timeout != 2*time.Second {
		t.Errorf("probe timeout = %s", prod.HealthSources[1].Timeout)
	}
	if st := cfg.Environment("staging"); st.AutoRollback != AutoRollbackAlways || st.Executor.Type != executor.TypeNone {
		t.Errorf("staging = %+v", st)
	}
	if len(cfg.DiscordApprovers) != 2 || cfg.DiscordApprovers[1].ID != "234567890123456789" {
		t.Errorf("discord_approvers = %+v", cfg.DiscordApprovers)
	}
	if cfg.MaxBodyBytes != 1<<20 || cfg.MaxIngestBodyBytes != 8<<20 {
		t.Errorf("sizes = %d, %d", cfg.MaxBodyBytes, cfg.MaxIngestBodyBytes)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, `
listen: 0.0.0.0:7000
watch_window: 3m
executor: command
executor_command: ./deploy.sh
environments:
  production:
    executor: none
    thresholds:
      recent_errors: 10
  qa: {}
`)
	cfg, err := Load(path, env(map[string]string{
		"ROMAN_LISTEN":                   "127.0.0.1:9999",
		"ROMAN_EXECUTOR_COMMAND":         "./other.sh",
		"ROMAN_ERROR_RATE_THRESHOLD":     "7",
		"ROMAN_RECENT_ERRORS_THRESHOLD":  "40",
		"ROMAN_DB_CONNECTIONS_THRESHOLD": "80",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" {
		t.Errorf("env must win over the file: listen = %s", cfg.Listen)
	}
	if cfg.WatchWindow != 3*time.Minute {
		t.Errorf("file must win over defaults: watch_window = %s", cfg.WatchWindow)
	}
	tests := []struct {
		env          string
		executor     string
		command      string
		recentErrors int64
	}{
		{"production", executor.TypeNone, "./other.sh", 10}, // the file's entry wins over env defaults
		{"qa", executor.TypeCommand, "./other.sh", 40},      // named but empty: defaults after env
		{"staging", executor.TypeCommand, "./other.sh", 40}, // not named: defaults
	}
	for _, tt := range tests {
		e := cfg.Environment(tt.env)
		if e.Executor.Type != tt.executor || e.Executor.Command != tt.command || e.Thresholds.RecentErrors != tt.recentErrors {
			t.Errorf("%s: executor %q command %q recent_errors %d; want %q %q %d",
				tt.env, e.Executor.Type, e.Executor.Command, e.Thresholds.RecentErrors, tt.executor, tt.command, tt.recentErrors)
		}
		if e.Thresholds.ErrorRate != 7 || e.Thresholds.DBConnections != 80 || e.WatchWindow != 3*time.Minute {
			t.Errorf("%s: inherited settings lost: %+v", tt.env, e)
		}
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	path := writeFile(t, "listen: 127.0.0.1:1234\n")
	cfg, err := Load("", env(map[string]string{"ROMAN_CONFIG": path}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:1234" {
		t.Errorf("ROMAN_CONFIG not read: listen = %s", cfg.Listen)
	}
}

func TestEnvironmentIsACopy(t *testing.T) {
	cfg := Default()
	e := cfg.Environment("production")
	e.HealthSources[0].Type = "changed"
	e.Thresholds.ErrorRate = 99
	if cfg.HealthSources[0].Type != health.SourceBuiltin || cfg.Thresholds.ErrorRate != 5 {
		t.Error("changing the result of Environment changed the Config")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"bad duration env", "", map[string]string{"ROMAN_WATCH_WINDOW": "5 minutes"},
			[]string{"ROMAN_WATCH_WINDOW", `invalid duration "5 minutes"`}},
		{"bad duration file", "cooldown: soon\n", nil,
			[]string{"line 1", "cooldown", `invalid duration "soon"`}},
		{"negative window", "watch_window: -1m\n", nil,
			[]string{"watch_window (ROMAN_WATCH_WINDOW): must be positive"}},
		{"bad new errors action env", "", map[string]string{"ROMAN_NEW_ERRORS_ACTION": "page"},
			[]string{"new_errors_action (ROMAN_NEW_ERRORS_ACTION)", `unknown action "page" (want warn or rollback)`}},
		{"negative new errors min", "environments:\n  production:\n    new_errors_min: -1\n", nil,
			[]string{"environments.production.new_errors_min", "must not be negative"}},
		{"bad new errors min env", "", map[string]string{"ROMAN_NEW_ERRORS_MIN": "ten"},
			[]string{"ROMAN_NEW_ERRORS_MIN", `invalid integer "ten"`}},
		{"no body time", "body_timeout: 0s\n", nil,
			[]string{"body_timeout (ROMAN_BODY_TIMEOUT): must be positive"}},
		{"bad trusted proxy env", "", map[string]string{"ROMAN_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
			[]string{"trusted_proxies (ROMAN_TRUSTED_PROXIES)", `"proxy.internal" is neither an IP address nor a CIDR prefix`}},
		{"bad trusted proxy file", "trusted_proxies: [10.0.0.0/33]\n", nil,
			[]string{"trusted_proxies", `"10.0.0.0/33"`}},
		{"trusted proxies not a list", "trusted_proxies: {a: b}\n", nil,
			[]string{"trusted_proxies", "want a list of IP addresses or CIDR prefixes"}},
		{"no connections", "", map[string]string{"ROMAN_MAX_CONNECTIONS": "0"},
			[]string{"max_connections (ROMAN_MAX_CONNECTIONS): must be at least 1"}},
		{"bad role env", "", map[string]string{"ROMAN_API_KEYS": "superuser:tok123-0123456789abcdef"},
			[]string{"api_keys[0].role (ROMAN_API_KEYS)", `unknown role "superuser"`}},
		{"bad role file", "api_keys:\n  - {name: ci, role: owner, token: t}\n", nil,
			[]string{"api_keys[0].role", `"owner"`}},
		{"short key env", "", map[string]string{"ROMAN_API_KEYS": "admin:0123456789abcde"},
			[]string{"api_keys[0].token (ROMAN_API_KEYS)", "15 characters", "fewer than the 16", "openssl rand -hex 32"}},
		{"short key file", "api_keys:\n  - {name: ci, role: read, token: x}\n", nil,
			[]string{"api_keys[0].token", `key "ci"`, "openssl rand -hex 32"}},
		{"key without token", "", map[string]string{"ROMAN_API_KEYS": "admin"},
			[]string{"ROMAN_API_KEYS", "entry 1 is not role:token"}},
		{"unknown key field", "api_keys:\n  - {name: ci, role: read, tokn: t}\n", nil,
			[]string{"line 2", `unknown key "tokn"`}},
		{"unknown executor", "", map[string]string{"ROMAN_EXECUTOR": "ssh"},
			[]string{"executor (ROMAN_EXECUTOR)", `unknown executor "ssh"`}},
		{"command executor needs command", "", map[string]string{"ROMAN_EXECUTOR": "command"},
			[]string{"executor_command (ROMAN_EXECUTOR_COMMAND): required"}},
		{"webhook executor needs url", "environments:\n  production:\n    executor: webhook\n", nil,
			[]string{"environments.production.executor_webhook_url: required"}},
		{"github executor settings", "executor: github\n", nil,
			[]string{"executor_github_repository", "executor_github_workflow", "executor_github_token"}},
		{"bad threshold number", "", map[string]string{"ROMAN_ERROR_RATE_THRESHOLD": "high"},
			[]string{"ROMAN_ERROR_RATE_THRESHOLD", `invalid number "high"`}},
		{"negative threshold", "thresholds:\n  error_rate: -1\n", nil,
			[]string{"thresholds.error_rate (ROMAN_ERROR_RATE_THRESHOLD): must not be negative"}},
		{"db threshold over 100", "", map[string]string{"ROMAN_DB_CONNECTIONS_THRESHOLD": "150"},
			[]string{"thresholds.db_connections", "at most 100"}},
		{"env threshold", "environments:\n  production:\n    thresholds:\n      recent_errors: -5\n", nil,
			[]string{"environments.production.thresholds.recent_errors: must not be negative"}},
		{"unknown threshold", "thresholds:\n  error_rat: 1\n", nil,
			[]string{"line 2", `unknown key "error_rat" in thresholds`}},
		{"unknown top-level key", "\nlisten: :80\nwatchwindow: 5m\n", nil,
			[]string{"line 3", `unknown key "watchwindow"`}},
		{"unknown environment key", "environments:\n  prod:\n    listen: :80\n", nil,
			[]string{"line 3", `unknown key "listen" in environments.prod`}},
		{"bad environment name", "environments:\n  Production: {}\n", nil,
			[]string{`invalid environment name "Production"`}},
		{"bad auto_rollback", "", map[string]string{"ROMAN_AUTO_ROLLBACK": "sometimes"},
			[]string{"auto_rollback (ROMAN_AUTO_ROLLBACK)", `"sometimes"`}},
		{"bad database scheme", "", map[string]string{"ROMAN_DATABASE": "mysql://u:p@h/db"},
			[]string{"database (ROMAN_DATABASE)", `unsupported database URL scheme "mysql"`}},
		{"bad listen", "", map[string]string{"ROMAN_LISTEN": "localhost"},
			[]string{"listen (ROMAN_LISTEN)"}},
		{"bad size", "", map[string]string{"ROMAN_MAX_BODY_BYTES": "lots"},
			[]string{"ROMAN_MAX_BODY_BYTES", `invalid size "lots"`}},
		{"bad log level", "log_level: loud\n", nil,
			[]string{"log_level (ROMAN_LOG_LEVEL)", `"loud"`}},
		{"bad health source", "health_sources:\n  - type: datadog\n", nil,
			[]string{"health_sources[0].type", `"datadog"`}},
		{"prometheus needs queries", "health_sources:\n  - {type: prometheus, url: 'http://p:9090'}\n", nil,
			[]string{"health_sources[0].queries"}},
		{"bad public key", "", map[string]string{"ROMAN_DISCORD_PUBLIC_KEY": "xyz"},
			[]string{"discord_public_key (ROMAN_DISCORD_PUBLIC_KEY)"}},
		{"bad approver", "", map[string]string{"ROMAN_DISCORD_APPROVERS": "alice"},
			[]string{"discord_approvers[0]", `"alice"`}},
		{"not a mapping", "- a\n- b\n", nil, []string{"must be a mapping"}},
		{"several errors at once", "watch_window: 0s\nexecutor: ftp\n", nil,
			[]string{"watch_window", "executor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(path, env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("err = %v, want a missing-file error", err)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, body := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := Load(writeFile(t, body), env(nil))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if cfg.Listen != DefaultListen {
			t.Errorf("%q: listen = %s", body, cfg.Listen)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"roman.db", "roman.db"},
		{"sqlite:///var/roman.db", "sqlite:///var/roman.db"},
		{"postgres://roman:s3cret@db:5432/roman?sslmode=disable", "postgres://roman:[REDACTED]@db:5432/roman?sslmode=disable"},
		{"postgres://db/roman?password=s3cret&sslmode=require", "postgres://db/roman?password=[REDACTED]&sslmode=require"},
		{"host=db password=s3cret", roman.Redacted},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true}, {"1MiB", 1 << 20, true}, {"8 MiB", 8 << 20, true},
		{"512KiB", 512 << 10, true}, {"2GiB", 2 << 30, true}, {"1MB", 1e6, true}, {"10B", 10, true},
		{"", 0, false}, {"1.5MiB", 0, false}, {"MiB", 0, false}, {"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestKeyRecords(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"ROMAN_API_KEYS": "deploy:tok-d-0123456789abcdef,admin:tok-a-0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	kr := roman.NewKeyring(cfg.KeyRecords())
	if k, ok := kr.Lookup("tok-a-0123456789abcdef"); !ok || k.Role != roman.RoleAdmin {
		t.Errorf("admin token: %+v %v", k, ok)
	}
	if k, ok := kr.Lookup("tok-d-0123456789abcdef"); !ok || k.Role != roman.RoleDeploy {
		t.Errorf("deploy token: %+v %v", k, ok)
	}
	if _, ok := kr.Lookup("nope-0123456789abcdef"); ok {
		t.Error("unknown token accepted")
	}
}
