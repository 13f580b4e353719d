package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func TestJudgeDefaultsAreThreshold(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Environment("production").Judge, roman.DefaultJudgeSettings(); got != want {
		t.Errorf("judge settings = %+v, want %+v", got, want)
	}
	if cfg.Judge.Judge != roman.JudgeThreshold {
		t.Errorf("default judge = %q, want threshold", cfg.Judge.Judge)
	}
}

func TestJudgeFromFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roman.yaml")
	data := "judge: baseline\nenvironments:\n  production:\n    max_ratio: 2\n    min_errors: 8\n    extend: 2m\n  staging:\n    judge: threshold\n    judge_shadow: true\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{"ROMAN_BASELINE_WINDOW": "45m", "ROMAN_FALSE_POSITIVE_RATE": "0.005",
		"ROMAN_MIN_REQUESTS": "250", "ROMAN_JUDGE_SHADOW": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Environment("production").Judge
	want := roman.JudgeSettings{Judge: roman.JudgeBaseline, BaselineWindow: 45 * time.Minute, MaxRatio: 2,
		FalsePositiveRate: 0.005, MinErrors: 8, MinRequests: 250, Extend: 2 * time.Minute}
	if p != want {
		t.Errorf("production judge = %+v, want %+v", p, want)
	}
	s := cfg.Environment("staging").Judge
	if s.Judge != roman.JudgeThreshold || !s.Shadow || s.MaxRatio != 1.5 {
		t.Errorf("staging judge = %+v, want threshold with shadow and the default max_ratio", s)
	}
}

func TestJudgeValidation(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"ROMAN_JUDGE": "magic"}, `judge (ROMAN_JUDGE): must be threshold or baseline, got "magic"`},
		{map[string]string{"ROMAN_MAX_RATIO": "0.5"}, "max_ratio (ROMAN_MAX_RATIO): must be at least 1"},
		{map[string]string{"ROMAN_FALSE_POSITIVE_RATE": "0"}, "false_positive_rate (ROMAN_FALSE_POSITIVE_RATE): must be above 0 and below 0.5"},
		{map[string]string{"ROMAN_MIN_ERRORS": "0"}, "min_errors (ROMAN_MIN_ERRORS): must be at least 1"},
		{map[string]string{"ROMAN_MIN_REQUESTS": "-1"}, "min_requests (ROMAN_MIN_REQUESTS): must be a number, at least 0"},
		{map[string]string{"ROMAN_BASELINE_WINDOW": "10s"}, "baseline_window (ROMAN_BASELINE_WINDOW): must be at least 1m"},
		{map[string]string{"ROMAN_JUDGE_SHADOW": "maybe"}, "invalid boolean"},
		{map[string]string{"ROMAN_MAX_RATIO": "lots"}, `invalid number "lots"`},
	} {
		_, err := Load("", env(c.vars))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to contain %q", c.vars, err, c.want)
		}
	}
}
