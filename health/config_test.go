package health

import (
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
)

func TestValidateSources(t *testing.T) {
	if err := ValidateSources(DefaultSources()); err != nil {
		t.Errorf("defaults: %v", err)
	}
	tests := []struct {
		name    string
		sources []SourceConfig
		want    []string
	}{
		{"none", nil, []string{"at least one source is needed"}},
		{"unknown type", []SourceConfig{{Type: "datadog"}}, []string{`[0].type: unknown source "datadog"`}},
		{"probe without url", []SourceConfig{{Type: SourceBuiltin}, {Type: SourceProbe}}, []string{"[1].url: required by the probe source"}},
		{"prometheus", []SourceConfig{{Type: SourcePrometheus, URL: "ftp://SENSITIVE", Timeout: -1}},
			[]string{"[0].url: not an http(s) URL", "[0].queries: the prometheus source needs at least one query", "[0].timeout: must not be negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateSources(tc.sources)
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
