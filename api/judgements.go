package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
)

// JudgementRecord is one health_judgement row of a deployment: the judge's
// verdict with its evidence, when it was recorded and why ("verdict" for a
// change, "trigger", "suppression" or "window_end").
type JudgementRecord struct {
	EventID   string    `json:"event_id"`
	Timestamp time.Time `json:"timestamp"`
	Record    string    `json:"record"`
	roman.Judgement
}

// JudgementList is the GET /deployments/{deployment_id}/judgements
// response, newest first.
type JudgementList struct {
	DeploymentID string            `json:"deployment_id"`
	Judgements   []JudgementRecord `json:"judgements"`
}

// maxJudgements is how many judgements the list returns.
const maxJudgements = 500

// listJudgements serves GET /deployments/{deployment_id}/judgements: the
// deployment's health_judgement rows (both the acting judge's and, in
// shadow mode, the other's), newest first.
func (s *Server) listJudgements(w http.ResponseWriter, r *http.Request) error {
	id, err := s.knownDeployment(r)
	if err != nil {
		return err
	}
	if s.deps.Audit == nil {
		return errNotConfigured("the audit trail")
	}
	evs, err := s.deps.Audit.Events(r.Context(), roman.RomanEventFilter{EventType: roman.EventHealthJudgement, DeploymentID: id, Limit: maxJudgements})
	if err != nil {
		return err
	}
	out := JudgementList{DeploymentID: id, Judgements: []JudgementRecord{}}
	for _, e := range evs {
		var md struct {
			Record    string           `json:"record"`
			Judgement *roman.Judgement `json:"judgement"`
		}
		if json.Unmarshal(e.Metadata, &md) != nil || md.Judgement == nil {
			continue
		}
		out.Judgements = append(out.Judgements, JudgementRecord{EventID: e.EventID, Timestamp: e.Timestamp, Record: md.Record, Judgement: *md.Judgement})
	}
	return WriteJSON(w, http.StatusOK, out)
}
