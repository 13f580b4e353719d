package roman_test

import (
	"testing"

	"github.com/odyssey-1/roman"
)

func TestHub(t *testing.T) {
	var h roman.Hub
	a, cancelA := h.Subscribe(1)
	b, cancelB := h.Subscribe(1)
	h.Publish(roman.Change{Kind: roman.ChangeErrors, DeploymentID: "d"})
	h.Publish(roman.Change{Kind: roman.ChangeErrors, DeploymentID: "dropped"}) // buffers full: never blocks
	if c := <-a; c.DeploymentID != "d" {
		t.Fatalf("a got %+v", c)
	}
	if c := <-b; c.DeploymentID != "d" {
		t.Fatalf("b got %+v", c)
	}
	cancelA()
	cancelA()
	if _, ok := <-a; ok {
		t.Fatal("cancelled channel must be closed")
	}
	h.Publish(roman.Change{Kind: roman.ChangeRollback})
	if c := <-b; c.Kind != roman.ChangeRollback {
		t.Fatalf("b got %+v", c)
	}
	cancelB()
	var nilHub *roman.Hub
	nilHub.Publish(roman.Change{}) // must not panic
}
