package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/odyssey-1/roman"
)

// Prometheus is a pulled source that runs one PromQL instant query per
// signal against a Prometheus HTTP API. A query may name the deployment it
// measures with the placeholders {{deployment_id}}, {{environment}} and
// {{version}}, e.g. `sum(rate(http_errors_total{version="{{version}}"}[1m])) * 60`.
// A value is escaped for where its placeholder stands (a string, a
// regular-expression matcher, a raw string, a comment, a name), so a
// version can never change what the query computes. A query that fails or
// returns no sample makes its signal unknown; a vector of several series
// counts its largest value.
type Prometheus struct {
	api     v1.API
	queries map[string]string
	timeout time.Duration
}

var _ roman.HealthSource = (*Prometheus)(nil)

// NewPrometheus returns the source for the Prometheus at baseURL with the
// given query per signal. timeout bounds each query (0: the sampler's).
func NewPrometheus(baseURL string, queries map[string]string, timeout time.Duration) (*Prometheus, error) {
	if len(queries) == 0 {
		return nil, errors.New("prometheus source: no queries")
	}
	for sig := range queries {
		if !roman.ValidSignal(sig) {
			return nil, fmt.Errorf("prometheus source: unknown signal %q (want one of %s)", sig, strings.Join(roman.Signals, ", "))
		}
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may carry credentials: the message does not repeat it.
		return nil, errors.New("prometheus source: url is not an http(s) URL")
	}
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: http.DefaultTransport})
	if err != nil {
		return nil, errors.New("prometheus source: invalid url")
	}
	q := make(map[string]string, len(queries))
	for k, v := range queries {
		q[k] = v
	}
	return &Prometheus{api: v1.NewAPI(c), queries: q, timeout: timeout}, nil
}

// Name implements roman.HealthSource.
func (p *Prometheus) Name() string { return "prometheus" }

// Signals implements roman.HealthSource: the signals that have a query.
func (p *Prometheus) Signals() []string {
	out := make([]string, 0, len(p.queries))
	for sig := range p.queries {
		out = append(out, sig)
	}
	sort.Strings(out)
	return out
}

// Measure implements roman.HealthSource: one instant query per signal at
// time now.
func (p *Prometheus) Measure(ctx context.Context, d *roman.Deployment, now time.Time) (roman.Measurement, error) {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	m := roman.Measurement{Values: map[string]float64{}, Unknown: map[string]string{}}
	values := map[string]string{"deployment_id": d.DeploymentID, "environment": d.Environment, "version": d.Version}
	for _, sig := range p.Signals() {
		q, err := expandQuery(p.queries[sig], values)
		if err != nil {
			m.Unknown[sig] = err.Error()
			continue
		}
		v, err := p.query(ctx, q, now)
		if err != nil {
			m.Unknown[sig] = err.Error()
			continue
		}
		m.Values[sig] = v
	}
	return m, nil
}

// expandQuery replaces each {{name}} placeholder of a PromQL query with
// values[name], escaped for where the placeholder stands, so that the value
// is always data and never PromQL:
//
//   - inside a double- or single-quoted string, backslashes, the quote and
//     control characters are escaped; when the string is the right-hand side
//     of a regular-expression matcher (=~ or !~), the value's
//     regular-expression metacharacters are escaped first, so it matches
//     literally;
//   - inside a `raw string`, which has no escapes, a value holding a
//     backtick is an error (the matcher regexp-escaping still applies);
//   - in a # comment, line breaks become spaces;
//   - anywhere else (part of a name), only a plain name ([A-Za-z0-9_:]*) is
//     accepted.
//
// Unknown placeholders are left as they are. The error names the
// placeholder and never quotes the value.
func expandQuery(query string, values map[string]string) (string, error) {
	var b strings.Builder
	var quote byte   // the open string's quote, 0 outside strings
	var matcher bool // the open string follows =~ or !~
	var comment bool // inside a # comment
	for i := 0; i < len(query); {
		if strings.HasPrefix(query[i:], "{{") {
			if end := strings.Index(query[i:], "}}"); end > 2 {
				name := query[i+2 : i+end]
				if v, ok := values[name]; ok {
					out, err := placeValue(name, v, quote, matcher, comment)
					if err != nil {
						return "", err
					}
					b.WriteString(out)
					i += end + 2
					continue
				}
			}
		}
		c := query[i]
		b.WriteByte(c)
		i++
		switch {
		case comment:
			comment = c != '\n'
		case quote == 0 && c == '#':
			comment = true
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
			before := strings.TrimRight(query[:i-1], " \t\n")
			matcher = strings.HasSuffix(before, "=~") || strings.HasSuffix(before, "!~")
		case quote != 0 && quote != '`' && c == '\\' && i < len(query):
			b.WriteByte(query[i]) // an escaped character of the template
			i++
		case c == quote:
			quote = 0
		}
	}
	return b.String(), nil
}

// plainName is what a placeholder outside any string may become.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_:]*$`)

// placeValue is v escaped for where placeholder name stands.
func placeValue(name, v string, quote byte, matcher, comment bool) (string, error) {
	switch {
	case comment:
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(v), nil
	case quote == 0:
		if !plainName.MatchString(v) {
			return "", fmt.Errorf("the value of {{%s}} is not a plain name, and the query uses it outside a string", name)
		}
		return v, nil
	}
	if matcher {
		v = regexp.QuoteMeta(v)
	}
	if quote == '`' {
		if strings.ContainsRune(v, '`') {
			return "", fmt.Errorf("the value of {{%s}} holds a backtick and cannot be quoted in a raw string", name)
		}
		return v, nil
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// query runs one instant query and reduces its result to one number.
func (p *Prometheus) query(ctx context.Context, q string, now time.Time) (float64, error) {
	val, _, _, err := p.api.Query(ctx, q, now)
	if err != nil {
		if ctx.Err() != nil {
			return 0, errors.New("query timed out")
		}
		return 0, fmt.Errorf("query failed: %s", promError(err))
	}
	var v float64
	switch r := val.(type) {
	case model.Vector:
		if len(r) == 0 {
			return 0, errors.New("query returned no data")
		}
		v = math.Inf(-1)
		for _, s := range r {
			v = max(v, float64(s.Value))
		}
	case *model.Scalar:
		v = float64(r.Value)
	default:
		return 0, fmt.Errorf("query returned a %s, want an instant vector or scalar", val.Type())
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("query returned no finite value")
	}
	return v, nil
}

// promError is the client's error without the request URL, which may carry
// credentials.
func promError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	var pe *v1.Error
	if errors.As(err, &pe) {
		return string(pe.Type) + ": " + pe.Msg
	}
	return err.Error()
}
