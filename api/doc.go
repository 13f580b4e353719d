// Package api is roman's HTTP API: the server (routes, auth, JSON errors,
// the OpenAPI document) and the request and answer types its Go client
// (package client, which the CLI uses) shares. Paths and JSON
// shapes follow the API reference of the seed document (the team's
// ROLLBACK_PROCEDURES.md); the auto-rollback routes are also served under
// /functions/v1 so the seed's curl commands work unchanged.
//
// # Extending
//
// Later features register their routes on the same server with
// Server.Handle or Server.HandleRoute, decode bodies with DecodeJSON, answer
// with WriteJSON and return errors (a *roman.Error, or anything else for a
// logged 500). Every route the server serves must appear in openapi.json,
// HTML pages and forms included; only static assets may be marked
// Undocumented. Two drift tests run VerifyOpenAPI over Server.Routes: this
// package's, on its own routes, and the server package's, on every route of
// the running program (the dashboard's and the /functions/v1 aliases too).
// The Go client calls such routes with client.Client.Do until it has a
// method for them (its route table is checked against openapi.json).
//
// # Decisions
//
// Where the specification is silent, the API behaves as follows.
//
//   - A request body is exactly one JSON object. Unknown fields, fields
//     spelled in another case ("Version"), duplicate fields, trailing data
//     and values of the wrong type are 400 naming the field. Unknown fields
//     are refused rather than ignored because a typo such as
//     "with_migration" on a rollback would otherwise silently do something
//     other than what was asked.
//   - Unknown or repeated query parameters are 400 on every API route, for
//     the same reason: "?enviroment=production" must not list every
//     environment, and "POST /auto-rollback?dry_run=true" must not run a
//     real rollback. /healthz, /readyz and /openapi.json ignore queries.
//   - The Content-Type of a request is not checked: the seed's
//     `curl -d '{...}'` sends application/x-www-form-urlencoded.
//   - Bodies are capped at Config.MaxBodyBytes (1 MiB), ingest routes at
//     Config.MaxIngestBodyBytes (8 MiB); larger ones get 413, detected from
//     Content-Length before reading or while reading chunked bodies.
//   - version, git_commit and git_branch are at most 256 bytes,
//     trigger_reason 4096; metadata and health_check_details must be JSON
//     objects (or null).
//   - Lists: GET /deployments returns 50 by default, history 10 (the
//     seed's ?limit=10); limit must be 1..1000.
//   - POST /deployments without deployment_id gets a generated one; an
//     absent status or deployed_at reaches the service as zero so it applies
//     its defaults (status in_progress, deployed_at now) and can compare an
//     idempotent re-send. A re-send
//     answers 200 instead of 201.
//   - POST /auto-rollback defaults trigger_type to manual (a person or a
//     pipeline asking); callers may say automatic. override from a key
//     below admin is 403 before the service is called. A rollback that ran
//     but failed (executor, verification) answers 200 with success false
//     and error, like the seed; only a constitutional rejection is 422.
//   - Unknown paths answer a JSON 404, a known path with the wrong method a
//     JSON 405 with Allow. Path ids that are not UUIDs are 400.
//   - 401 says only "missing or invalid API key" whatever the cause; 403
//     names the key and the role needed. 503 carries Retry-After.
//   - A client address that failed to authenticate too often (AuthLimiter)
//     is answered 429 with Retry-After on every route that takes a key,
//     before the key is looked at.
package api
