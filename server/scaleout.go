package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/sqldb"
)

// scaleOut is what a replica sharing one PostgreSQL with others runs besides
// the single-process server (docs/scale-out.md): its lock session
// (presence and the monitor's leadership), the elector and the resumer of
// rollbacks whose replica died.
type scaleOut struct {
	locks   *sqldb.LockSession
	elector *monitor.Elector
}

var _ monitor.OrphanStore = (*sqldb.DB)(nil)

// startScaleOut takes this replica's presence lock, so the rollbacks it runs
// are known to be alive, and campaigns for the monitor's leadership: the
// first round runs now, so a lone replica leads when Open returns. On
// SQLite, one process, the monitor always leads.
func (m *Server) startScaleOut(ctx context.Context) error {
	if m.Store.Dialect() != sqldb.DialectPostgres {
		m.Metrics.SetMonitorLeader(true)
		return nil
	}
	locks, err := m.Store.NewLockSession()
	if err != nil {
		return err
	}
	if err := locks.Connect(ctx); err != nil {
		return fmt.Errorf("opening the lock session: %w", err)
	}
	replica := m.Store.ReplicaID()
	m.Logger.Info("replica started", "replica", replica)
	m.Rollbacks.Replica = replica
	res := &monitor.Resumer{Store: m.Store, Resume: m.Rollbacks.Resume, Replica: replica, Logger: m.Logger}
	m.Rollbacks.Claim = res.Claim
	m.Monitor.Confirm = locks.Held
	el := &monitor.Elector{Lock: locks, Monitor: m.Monitor, Interval: m.Config.LeaderInterval,
		OnChange: m.leadershipChanged, WhileLeading: res.Round, Logger: m.Logger}
	m.scaleOut = &scaleOut{locks: locks, elector: el}
	m.Metrics.SetMonitorLeader(false)
	el.Start(ctx)
	return nil
}

// stopLeading gives the monitor's leadership up (another replica takes over
// on its next round); the presence lock stays until closeScaleOut.
func (m *Server) stopLeading() {
	if m.scaleOut != nil && m.scaleOut.elector != nil {
		m.scaleOut.elector.Stop()
		m.scaleOut.elector = nil
	}
}

// closeScaleOut ends the lock session. Close calls it after the rollbacks
// of this process finished or parked: from then on another replica may
// resume them.
func (m *Server) closeScaleOut() {
	m.stopLeading()
	if m.scaleOut != nil {
		m.scaleOut.locks.Close()
		m.scaleOut = nil
	}
}

// leadershipChanged exports a change of leadership as the
// roman_monitor_leader gauge and a roman_events row.
func (m *Server) leadershipChanged(ctx context.Context, leading bool, reason string) {
	m.Metrics.SetMonitorLeader(leading)
	replica := m.Store.ReplicaID()
	host, _ := os.Hostname()
	typ, sev := monitor.EventLeaderAcquired, roman.SeverityInfo
	msg := fmt.Sprintf("Replica %s (%s) leads the monitor", replica, host)
	if !leading {
		typ, msg = monitor.EventLeaderReleased, fmt.Sprintf("Replica %s (%s) no longer leads the monitor: %s", replica, host, reason)
		if reason != "shutdown" {
			sev = roman.SeverityWarning
		}
	}
	md, _ := json.Marshal(map[string]any{"replica": replica, "hostname": host, "reason": reason})
	e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: typ, Severity: sev, Message: msg,
		Metadata: md, Timestamp: roman.UTC(m.Clock())}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.Store.AddRomanEvent(ctx, e); err != nil {
		m.Logger.Error("writing the leadership row failed", "event_type", typ, "err", err)
		return
	}
	m.Hub.Publish(roman.Change{Kind: roman.ChangeRomanEvent, EventID: e.EventID})
}
