package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// A message template is text with CEL expressions between {{ and }}:
//
//	System already stable: error rate {{ rate(health.error_rate_per_minute) }}/minute
//
// Each expression is compiled and type-checked with the rule, against the
// same variables, and its value is printed: strings as they are, doubles in
// their shortest form (1.618), rate(x) with at most one decimal as roman
// prints rates (0.2, 9), errors_per_minute(x) the same with its noun
// ("1 error/minute", "8.5 errors/minute"), timestamps in RFC 3339, null as "null", lists and
// maps as JSON. There is no escape: a literal "{{" is written {{ "{{" }}.
type message struct {
	// parts alternate literal text and expressions: text[i] precedes
	// exprs[i], and text has one element more than exprs.
	text  []string
	exprs []cel.Program
}

// parseMessage splits a template and compiles its expressions.
func parseMessage(tmpl string, compile func(src string) (cel.Program, error)) (*message, error) {
	m := &message{}
	rest := tmpl
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if strings.Contains(rest, "}}") {
				return nil, fmt.Errorf(`"}}" without "{{"`)
			}
			m.text = append(m.text, rest)
			return m, nil
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf(`"{{" without "}}"`)
		}
		src := strings.TrimSpace(rest[open+2 : open+2+end])
		if src == "" {
			return nil, fmt.Errorf("empty {{ }}")
		}
		if strings.Contains(rest[:open], "}}") {
			return nil, fmt.Errorf(`"}}" without "{{"`)
		}
		prg, err := compile(src)
		if err != nil {
			return nil, fmt.Errorf("{{ %s }}: %w", src, err)
		}
		m.text = append(m.text, rest[:open])
		m.exprs = append(m.exprs, prg)
		rest = rest[open+2+end+2:]
	}
}

// render evaluates the expressions and joins the parts.
func (m *message) render(ctx context.Context, vars map[string]any) (string, error) {
	var b strings.Builder
	for i, prg := range m.exprs {
		b.WriteString(m.text[i])
		out, _, err := prg.ContextEval(ctx, vars)
		if err != nil {
			return "", err
		}
		b.WriteString(formatValue(out))
	}
	b.WriteString(m.text[len(m.text)-1])
	return b.String(), nil
}

// formatValue prints a CEL value for a message.
func formatValue(v ref.Val) string {
	switch x := v.(type) {
	case types.String:
		return string(x)
	case types.Double:
		return strconv.FormatFloat(float64(x), 'f', -1, 64)
	case types.Int:
		return strconv.FormatInt(int64(x), 10)
	case types.Uint:
		return strconv.FormatUint(uint64(x), 10)
	case types.Bool:
		return strconv.FormatBool(bool(x))
	case types.Null:
		return "null"
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano)
	case types.Duration:
		return x.Duration.String()
	}
	b, err := json.Marshal(plain(v))
	if err != nil {
		return fmt.Sprint(v.Value())
	}
	return string(b)
}

// plain converts a CEL value into Go values that encoding/json prints.
func plain(v ref.Val) any {
	switch x := v.(type) {
	case types.String, types.Int, types.Uint, types.Bool:
		return x.Value()
	case types.Double:
		return float64(x)
	case types.Null:
		return nil
	case types.Timestamp, types.Duration:
		return formatValue(x)
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			out[formatValue(k)] = plain(x.Get(k))
		}
		return out
	case traits.Lister:
		out := []any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			out = append(out, plain(it.Next()))
		}
		return out
	}
	return fmt.Sprint(v.Value())
}
