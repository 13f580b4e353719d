package health_test

import (
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
)

func TestValidateSources(t *testing.T) {
	if err := health.ValidateSources(health.DefaultSources()); err != nil {
		t.Errorf("defaults: %v", err)
	}
	tests := []struct {
		name    string
		sources []health.SourceConfig
		want    []string
	}{
		{"none", nil, []string{"at least one source is needed"}},
		{"unknown type", []health.SourceConfig{{Type: "datadog"}}, []string{`[0].type: unknown source "datadog"`}},
		{"probe without url", []health.SourceConfig{{Type: health.SourceBuiltin}, {Type: health.SourceProbe}}, []string{"[1].url: required by the probe source"}},
		{"prometheus", []health.SourceConfig{{Type: health.SourcePrometheus, URL: "ftp://SENSITIVE", Timeout: -1}},
			[]string{"[0].url: not an http(s) URL", "[0].queries: the prometheus source needs at least one query", "[0].timeout: must not be negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := health.ValidateSources(tc.sources)
			if got := len(roman.FieldErrors(err)); got != len(tc.want) {
				t.Errorf("%d problems, want %d: %v", got, len(tc.want), err)
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not contain %q", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "SENSITIVE") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}
