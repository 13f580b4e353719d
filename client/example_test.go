package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/client"
)

// CI's first step: record the deployment before it goes out.
func ExampleClient_RecordDeployment() {
	c := client.New(romanURL, deployToken)
	d, err := c.RecordDeployment(context.Background(), client.RecordDeploymentRequest{
		DeploymentID: ptr("0b7c3a52-5d0e-4d7a-9a51-000000000001"),
		Environment:  "staging", Version: "v2.5.3", GitCommit: "b4c5d6e", GitBranch: "main",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.DeploymentID, d.Service, d.Environment, d.Version, d.Status)
	// Output: 0b7c3a52-5d0e-4d7a-9a51-000000000001 default staging v2.5.3 in_progress
}

// CI's last step: the deploy finished, so roman snapshots the system and
// starts watching the release.
func ExampleClient_CompleteDeployment() {
	c := newClient()
	ctx := context.Background()
	id := "0b7c3a52-5d0e-4d7a-9a51-000000000002"
	if _, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{DeploymentID: &id,
		Environment: "example-complete", Version: "v1.0.0", GitCommit: "c0ffee1", GitBranch: "main"}); err != nil {
		fmt.Println(err)
		return
	}
	d, err := c.CompleteDeployment(ctx, id, roman.StatusSuccess)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Status, d.CompletedAt != nil)
	// Output: success true
}

func ExampleClient_GetDeployment() {
	c := newClient()
	ctx := context.Background()
	id := "0b7c3a52-5d0e-4d7a-9a51-000000000003"
	if _, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{DeploymentID: &id,
		Environment: "example-get", Version: "v3.1.0", GitCommit: "d00d123", GitBranch: "release"}); err != nil {
		fmt.Println(err)
		return
	}
	d, err := c.GetDeployment(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Version, d.GitCommit, d.GitBranch)
	// Output: v3.1.0 d00d123 release
}

func ExampleClient_ListDeployments() {
	c := newClient()
	release("example-list", "0b7c3a52-5d0e-4d7a-9a51-000000000004", "0b7c3a52-5d0e-4d7a-9a51-000000000005")
	list, err := c.ListDeployments(context.Background(), roman.DeploymentFilter{Environment: "example-list"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range list {
		fmt.Println(d.Version, d.Status)
	}
	// Output:
	// v2.5.3 in_progress
	// v2.5.2 success
}

func ExampleClient_Check() {
	c := newClient()
	id := release("example-check", "0b7c3a52-5d0e-4d7a-9a51-000000000006", "0b7c3a52-5d0e-4d7a-9a51-000000000007")
	res, err := c.Check(context.Background(), id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.ShouldRollback, res.Health.RecentErrors)
	// Output: false 0
}

// A manual rollback: roman validates it against the constitution, redeploys
// the last known-good release and verifies it.
func ExampleClient_Rollback() {
	c := client.New(romanURL, adminToken)
	bad := release("example-rollback", "0b7c3a52-5d0e-4d7a-9a51-000000000008", "0b7c3a52-5d0e-4d7a-9a51-000000000009")
	res, err := c.Rollback(context.Background(), roman.RollbackRequest{DeploymentID: bad, TriggerReason: "Checkout is failing"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Success, res.TargetDeployment.Version, res.TargetDeployment.GitCommit)
	// Output: true v2.5.2 a7f3b29
}

func ExampleClient_History() {
	c := client.New(romanURL, adminToken)
	ctx := context.Background()
	bad := release("example-history", "0b7c3a52-5d0e-4d7a-9a51-000000000010", "0b7c3a52-5d0e-4d7a-9a51-000000000011")
	if _, err := c.Rollback(ctx, roman.RollbackRequest{DeploymentID: bad, TriggerReason: "Latency doubled"}); err != nil {
		fmt.Println(err)
		return
	}
	list, err := c.History(ctx, roman.RollbackFilter{Environment: "example-history"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range list {
		fmt.Println(ev.Status, ev.TriggerReason)
	}
	// Output: success Latency doubled
}

// Validate asks the constitution without rolling anything back.
func ExampleClient_Validate() {
	c := newClient()
	bad := release("example-validate", "0b7c3a52-5d0e-4d7a-9a51-000000000012", "0b7c3a52-5d0e-4d7a-9a51-000000000013")
	v, err := c.Validate(context.Background(), roman.RollbackRequest{DeploymentID: bad, TriggerReason: "Error spike"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Compliant, len(v.Violations))
	// Output: true 0
}

func ExampleClient_Explain() {
	c := newClient()
	id := release("example-explain", "0b7c3a52-5d0e-4d7a-9a51-000000000014", "0b7c3a52-5d0e-4d7a-9a51-000000000015")
	ex, err := c.Explain(context.Background(), id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ex.Deployment.Version, ex.Verdict.Status, ex.Verdict.RolledBack, ex.Timeline[0].Kind)
	// Output: v2.5.3 in_progress false recorded
}

func ExampleClient_Events() {
	c := newClient()
	id := release("example-events", "0b7c3a52-5d0e-4d7a-9a51-000000000016", "0b7c3a52-5d0e-4d7a-9a51-000000000017")
	evs, err := c.Events(context.Background(), roman.RomanEventFilter{DeploymentID: id})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range evs {
		fmt.Println(e.EventType, e.Severity)
	}
	// Output: deployment_recorded info
}

// Applications report their errors; roman counts them for the release's
// health.
func ExampleClient_SendErrors() {
	c := newClient()
	id := release("example-errors", "0b7c3a52-5d0e-4d7a-9a51-000000000018", "0b7c3a52-5d0e-4d7a-9a51-000000000019")
	ev := client.ErrorEvent{DeploymentID: id, Message: "TypeError: cart is undefined"}
	res, err := c.SendErrors(context.Background(), ev, ev)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Success, res.Accepted, res.Deployments)
	// Output: true 2 [0b7c3a52-5d0e-4d7a-9a51-000000000019]
}

func ExampleClient_SendMetrics() {
	c := newClient()
	id := release("example-metrics", "0b7c3a52-5d0e-4d7a-9a51-000000000020", "0b7c3a52-5d0e-4d7a-9a51-000000000021")
	res, err := c.SendMetrics(context.Background(), client.MetricSample{DeploymentID: id, Name: "latency_p95_ms", Value: ptr(180.0)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Accepted)
	// Output: 1
}

// Snapshots record the system's state around a deploy; two can be compared.
func ExampleClient_CreateSnapshot() {
	c := newClient()
	ctx := context.Background()
	id := release("example-snapshots", "0b7c3a52-5d0e-4d7a-9a51-000000000022", "0b7c3a52-5d0e-4d7a-9a51-000000000023")
	pre, err := c.CreateSnapshot(ctx, id, roman.SnapshotPreDeployment)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := c.GetSnapshot(ctx, pre.SnapshotID)
	if err != nil {
		fmt.Println(err)
		return
	}
	post, err := c.CreateSnapshot(ctx, id, roman.SnapshotPostDeployment)
	if err != nil {
		fmt.Println(err)
		return
	}
	list, err := c.ListSnapshots(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	diff, err := c.DiffSnapshots(ctx, pre.SnapshotID, post.SnapshotID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.SnapshotType, len(list), diff.From == pre.SnapshotID)
	// Output: pre_deployment 2 true
}

func ExampleClient_RecordMigration() {
	c := newClient()
	ctx := context.Background()
	id := release("example-migrations", "0b7c3a52-5d0e-4d7a-9a51-000000000024", "0b7c3a52-5d0e-4d7a-9a51-000000000025")
	if _, err := c.RecordMigration(ctx, id, client.RecordMigrationRequest{MigrationName: "0042_add_cart_index", MigrationHash: "9f86d081"}); err != nil {
		fmt.Println(err)
		return
	}
	list, err := c.ListMigrations(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range list {
		fmt.Println(m.MigrationName, m.MigrationHash)
	}
	// Output: 0042_add_cart_index 9f86d081
}

func ExampleClient_Health() {
	c := client.New(romanURL, "")
	h, err := c.Health(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := c.Ready(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Status, r.Status)
	// Output: ok ok
}

// roman's JSON errors arrive as *client.Error with the code, the message
// and the field they are about.
func ExampleError() {
	c := newClient()
	_, err := c.RecordDeployment(context.Background(), client.RecordDeploymentRequest{
		Environment: "Production!", Version: "v1", GitCommit: "abc1234", GitBranch: "main",
	})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.StatusCode, e.Code, e.Field)
	}
	fmt.Println(roman.ErrorCode(err) == roman.EINVALID)
	// Output:
	// 400 invalid environment
	// true
}

// A context deadline bounds a call; so does Client.Timeout when the context
// has none.
func ExampleClient_Timeout() {
	c := newClient()
	c.Timeout = 5 * time.Second
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second)) // already past
	defer cancel()
	_, err := c.GetDeployment(ctx, "0b7c3a52-5d0e-4d7a-9a51-000000000001")
	fmt.Println(roman.ErrorCode(err))
	// Output: unavailable
}
