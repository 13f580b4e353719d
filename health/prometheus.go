package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
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
// A query that fails or returns no sample makes its signal unknown; a
// vector of several series counts its largest value.
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
	r := strings.NewReplacer("{{deployment_id}}", d.DeploymentID, "{{environment}}", d.Environment, "{{version}}", d.Version)
	for _, sig := range p.Signals() {
		v, err := p.query(ctx, r.Replace(p.queries[sig]), now)
		if err != nil {
			m.Unknown[sig] = err.Error()
			continue
		}
		m.Values[sig] = v
	}
	return m, nil
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
