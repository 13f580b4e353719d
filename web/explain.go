package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
)

// explainView is the explain page's data: the explanation and the
// timeline's details as indented JSON.
type explainView struct {
	*roman.Explanation
	Service string
	Entries []explainEntry
}

// explainEntry is one timeline entry with its details made readable.
type explainEntry struct {
	*roman.ExplainEntry
	DetailsText string
}

// explain serves the explain page of a deployment: its verdict and its
// decision timeline, from the same audit trail as GET
// /deployments/{deployment_id}/explain. Like the dashboard page it needs a
// session, and answers the sign-in form without one.
func (d *Dashboard) explain(w http.ResponseWriter, r *http.Request) error {
	c, ok := d.cfg.Sessions.SessionCaller(r)
	if !ok {
		return d.render(w, http.StatusOK, "signin.html", pageData{})
	}
	data := pageData{Caller: c.Name, Range: DefaultRange}
	if d.cfg.Audit == nil {
		data.Error = "Explanations are not enabled on this server."
		return d.render(w, http.StatusNotFound, "explain.html", data)
	}
	ex, err := d.cfg.Audit.Explain(r.Context(), r.PathValue("deployment_id"))
	switch {
	case roman.ErrorCode(err) == roman.ENOTFOUND || roman.ErrorCode(err) == roman.EINVALID:
		data.Error = "No deployment has that id."
		return d.render(w, http.StatusNotFound, "explain.html", data)
	case roman.ErrorCode(err) == roman.EUNAVAILABLE:
		d.cfg.Logger.Warn("explaining a deployment for the dashboard", "err", err)
		data.Error = "The database is unavailable; try again shortly."
		w.Header().Set("Retry-After", "1")
		return d.render(w, http.StatusServiceUnavailable, "explain.html", data)
	case err != nil:
		d.cfg.Logger.Error("explaining a deployment for the dashboard", "err", err)
		data.Error = "The explanation could not be read."
		return d.render(w, http.StatusInternalServerError, "explain.html", data)
	}
	v := &explainView{Explanation: ex, Service: roman.ServiceOrDefault(ex.Deployment.Service)}
	for _, e := range ex.Timeline {
		v.Entries = append(v.Entries, explainEntry{ExplainEntry: e, DetailsText: indentJSON(e.Details)})
	}
	data.Explain = v
	return d.render(w, http.StatusOK, "explain.html", data)
}

// indentJSON returns raw indented, or "" for null or nothing.
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// utcText formats a time for a page: UTC to the second. The page's script
// shows it in the browser's time zone.
func utcText(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
