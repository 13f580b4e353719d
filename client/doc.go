// Package client is the Go client of roman's HTTP API. The roman CLI makes
// every call to a roman server through it, so a program that drives roman
// from Go (a deploy tool, a chat bot, a test harness) gets the same requests,
// the same defaults and the same errors the CLI has.
//
// A Client is made with New and is safe for concurrent use:
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("ROMAN_TOKEN"))
//	d, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{
//		Environment: "production", Version: "v2.5.3", GitCommit: "b4c5d6e", GitBranch: "main",
//	})
//
// Every method takes a context: its deadline, when it has one, bounds the
// call; without one an ordinary call is bounded by Client.Timeout (30 s)
// and a rollback, which waits for the executor and the verify window, by
// Client.RollbackTimeout (15 min).
//
// Any answer other than 2xx, and any transport failure, is returned as an
// *Error carrying roman's error code (roman.EINVALID, roman.ENOTFOUND, ...),
// the server's message, the field the message names, and for a
// constitutional rejection (422) the validation. *Error also unwraps to a
// *roman.Error and, for a rejection, a *roman.RejectedError, so
// roman.ErrorCode and errors.As work on it as on the server's own errors.
//
// The operations the client implements are listed in one route table
// (routes.go); every method calls through it, and a test checks the table
// against the server's OpenAPI document (each operation it implements is
// marked "x-clients": ["go", ...] there), request and response fields
// included.
package client
