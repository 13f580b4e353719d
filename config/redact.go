package config

import (
	"reflect"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
)

// Redacted returns the configuration as a map for snapshots'
// environment_config: keys are the YAML keys, durations are strings such as "5m0s",
// every Secret is [REDACTED] (or "" when unset), executor_command keeps its
// program but not its arguments (executor.RedactCommand), and
// roman.RedactConfig then
// replaces any value whose key names a secret. The database settings keep
// their driver and a password-free form so that a snapshot still shows which
// database was used.
func (c *Config) Redacted() map[string]any {
	m, _ := toPlain(reflect.ValueOf(*c)).(map[string]any)
	if driver, _, err := c.DatabaseDriver(); err == nil {
		m["database_driver"] = driver
	}
	m["database"] = RedactURL(c.Database.Value())
	if c.AppDatabase.IsSet() {
		m["app_database"] = RedactURL(c.AppDatabase.Value())
	}
	return roman.RedactConfig(m)
}

// Redacted returns one environment's settings as a map, like
// Config.Redacted.
func (e EnvironmentConfig) Redacted() map[string]any {
	m, _ := toPlain(reflect.ValueOf(e)).(map[string]any)
	return roman.RedactConfig(m)
}

var (
	secretType         = reflect.TypeFor[roman.Secret]()
	durationType       = reflect.TypeFor[time.Duration]()
	executorConfigType = reflect.TypeFor[executor.Config]()
)

// toPlain turns a configuration value into maps, slices and scalars keyed by
// YAML names, with secrets and the executor command's arguments already
// redacted.
func toPlain(v reflect.Value) any {
	switch v.Type() {
	case secretType:
		return roman.Secret(v.String()).String()
	case durationType:
		return time.Duration(v.Int()).String()
	case executorConfigType:
		c := v.Interface().(executor.Config)
		c.Command = executor.RedactCommand(c.Command)
		v = reflect.ValueOf(c)
	}
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if opts == "inline" {
				for k, x := range toPlain(v.Field(i)).(map[string]any) {
					m[k] = x
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			m[name] = toPlain(v.Field(i))
		}
		return m
	case reflect.Map:
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = toPlain(iter.Value())
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toPlain(v.Index(i))
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toPlain(v.Elem())
	}
	return v.Interface()
}
