package mock

import (
	"context"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
)

func TestSetFunctionIsCalled(t *testing.T) {
	s := &DeploymentService{GetFn: func(_ context.Context, id string) (*roman.Deployment, error) {
		return &roman.Deployment{DeploymentID: id}, nil
	}}
	if d, err := s.Get(context.Background(), "x"); err != nil || d.DeploymentID != "x" {
		t.Errorf("Get: %v, %v", d, err)
	}
}

func TestUnsetFunctionPanicsWithItsName(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "Pinger.Ping") {
			t.Errorf("recovered %v", v)
		}
	}()
	_ = (&Pinger{}).Ping(context.Background())
}

// TestStoreMocksSatisfyTheirInterfaces: each store mock is usable wherever
// its interface is taken (the var _ lines in store.go say the same at
// compile time).
func TestStoreMocksSatisfyTheirInterfaces(t *testing.T) {
	for name, v := range map[string]any{
		"DeploymentStore": roman.DeploymentStore(&DeploymentStore{}),
		"RollbackStore":   roman.RollbackStore(&RollbackStore{}),
		"SnapshotStore":   roman.SnapshotStore(&SnapshotStore{}),
		"MigrationStore":  roman.MigrationStore(&MigrationStore{}),
		"EventStore":      roman.EventStore(&EventStore{}),
		"SignalStore":     roman.SignalStore(&SignalStore{}),
		"KeyStore":        roman.KeyStore(&KeyStore{}),
		"Pinger":          roman.Pinger(&Pinger{}),
		"OutboxStore":     roman.OutboxStore(&OutboxStore{}),
		"StatsStore":      roman.StatsStore(&StatsStore{}),
	} {
		if v == nil {
			t.Errorf("%s: nil", name)
		}
	}
}

// TestEveryStoreMethodNamesItselfWhenUnset: a method called without its Fn
// panics with its mock's and its own name.
func TestEveryStoreMethodNamesItselfWhenUnset(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(){
		"DeploymentStore.GetDeployment":  func() { _, _ = (&DeploymentStore{}).GetDeployment(ctx, "x") },
		"RollbackStore.GetRollbackEvent": func() { _, _ = (&RollbackStore{}).GetRollbackEvent(ctx, "x") },
		"SnapshotStore.GetSnapshot":      func() { _, _ = (&SnapshotStore{}).GetSnapshot(ctx, "x") },
		"MigrationStore.ListMigrations":  func() { _, _ = (&MigrationStore{}).ListMigrations(ctx, "x") },
		"EventStore.AddRomanEvent":       func() { _ = (&EventStore{}).AddRomanEvent(ctx, &roman.RomanEvent{}) },
		"SignalStore.InsertErrorEvents":  func() { _ = (&SignalStore{}).InsertErrorEvents(ctx, nil) },
		"KeyStore.ListAPIKeys":           func() { _, _ = (&KeyStore{}).ListAPIKeys(ctx) },
		"OutboxStore.ListAlerts":         func() { _, _ = (&OutboxStore{}).ListAlerts(ctx, roman.OutboxFilter{}) },
		"StatsStore.CountValidations":    func() { _, _, _ = (&StatsStore{}).CountValidations(ctx) },
	}
	for want, call := range calls {
		func() {
			defer func() {
				if v, _ := recover().(string); !strings.Contains(v, want) {
					t.Errorf("%s: recovered %q", want, v)
				}
			}()
			call()
		}()
	}
}
