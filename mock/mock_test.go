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
		if v := recover(); v == nil || !strings.Contains(v.(string), "Store.Ping") {
			t.Errorf("recovered %v", v)
		}
	}()
	_ = (&Store{}).Ping(context.Background())
}

func TestStoreCloseIsNilSafe(t *testing.T) {
	if err := (&Store{}).Close(); err != nil {
		t.Error(err)
	}
}
