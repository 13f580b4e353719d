package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/odyssey-1/roman"
)

// DeploymentErrors returns a release's errors grouped by fingerprint, new
// ones first (GET /deployments/{deployment_id}/errors). A zero f.Limit is
// the server's default.
func (c *Client) DeploymentErrors(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error) {
	q := url.Values{}
	if f.NewOnly {
		q.Set("new", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out ErrorGroupList
	if err := c.Do(ctx, http.MethodGet, withQuery("/deployments/"+url.PathEscape(deploymentID)+"/errors", q), nil, &out); err != nil {
		return nil, err
	}
	return out.Errors, nil
}
