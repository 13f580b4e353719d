package server

import (
	"fmt"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/executor"
)

// executors builds the executor of every configured environment (so a bad
// executor configuration stops the start, not a rollback) and returns the
// lookup the rollback service uses; an environment without its own entry
// gets the defaults' executor, built once. It also returns the longest
// executor timeout, which bounds the execute step.
func (m *Server) executors() (func(env string) roman.Executor, time.Duration, error) {
	cfg := m.Config
	opts := executor.Options{Clock: m.Clock, Logger: m.Logger}
	byEnv := map[string]roman.Executor{}
	longest := cfg.Executor.Timeout
	for name := range cfg.Environments {
		ec := cfg.Environment(name)
		e, err := executor.New(ec.Executor, opts)
		if err != nil {
			return nil, 0, fmt.Errorf("environments.%s: executor: %w", name, err)
		}
		byEnv[name] = e
		longest = max(longest, ec.Executor.Timeout)
	}
	def, err := executor.New(cfg.Executor, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("executor: %w", err)
	}
	return func(env string) roman.Executor {
		if e, ok := byEnv[env]; ok {
			return e
		}
		return def
	}, longest, nil
}

// verifyWindow returns the verify window of an environment.
func verifyWindow(cfg *config.Config) func(env string) time.Duration {
	return func(env string) time.Duration { return cfg.Environment(env).VerifyWindow }
}
