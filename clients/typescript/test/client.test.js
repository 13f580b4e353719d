// The TypeScript client against a real roman (started by the test): every
// call, every kind of answer executeRollback gets, and the transport
// failures. Run after `npm run build` (the Makefile's test-node does both).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import RollbackService, {
  RomanApiError,
  RomanError,
  RomanNetworkError,
  RomanTimeoutError,
  RomanClient,
  isSupabaseURL,
} from "../dist/index.js";
import { startRoman, closedPort, silentServer } from "./roman-server.js";

let roman;
/** Every request a client of these tests sent: "METHOD /path". */
export const sent = [];

function recordingFetch(rewriteOrigin) {
  return async (url, init) => {
    const u = new URL(url);
    sent.push(`${init.method} ${u.pathname}`);
    if (rewriteOrigin) {
      url = rewriteOrigin + u.pathname + u.search;
    }
    return fetch(url, init);
  };
}

function client(role = "admin", options = {}) {
  return new RollbackService(roman.url, roman.keys[role], { fetch: recordingFetch(), ...options });
}

before(async () => {
  roman = await startRoman({ ROMAN_VERIFY_WINDOW: "0s", ROMAN_WATCH_WINDOW: "10m" });
});

after(async () => {
  await roman?.stop();
});

let commits = 0;
function release(environment, version, extra = {}) {
  commits++;
  return {
    environment,
    version,
    git_commit: `c0ffee${commits}`,
    git_branch: "main",
    ...extra,
  };
}

/** A known-good release and a new one on top of it, in its own environment. */
async function goodThenNew(c, environment) {
  const good = await c.recordDeployment(release(environment, "v2.5.2", { status: "success", health_check_passed: true, deployed_at: new Date(Date.now() - 60_000).toISOString() }));
  const bad = await c.recordDeployment(release(environment, "v2.5.3"));
  return { good, bad };
}

test("records, completes, reads, checks and explains a deployment", async () => {
  const c = client();
  const rec = await c.recordDeployment(release("staging", "v1.0.0", { service: "api", metadata: { run: "42" } }));
  assert.match(rec.deployment_id, /^[0-9a-f-]{36}$/);
  assert.equal(rec.status, "in_progress");
  assert.equal(rec.service, "api");
  assert.deepEqual(rec.metadata, { run: "42" });

  const done = await c.completeDeployment(rec.deployment_id);
  assert.equal(done.status, "success");
  assert.ok(done.completed_at, "completing sets completed_at");

  const got = await c.getDeployment(rec.deployment_id);
  assert.equal(got.version, "v1.0.0");
  assert.equal(got.status, "success");

  const check = await c.checkHealth(rec.deployment_id);
  assert.equal(check.deployment_id, rec.deployment_id);
  assert.equal(check.should_rollback, false);
  assert.equal(check.health.healthy, true);
  assert.equal(check.health.error_rate_per_minute, 0);
  assert.equal(check.health.database_connections, null, "a signal no source gives is null");

  const ex = await c.explain(rec.deployment_id);
  assert.equal(ex.deployment.deployment_id, rec.deployment_id);
  assert.equal(ex.verdict.rolled_back, false);
  assert.ok(ex.timeline.some((e) => e.kind === "recorded"), JSON.stringify(ex.timeline));
  assert.ok(ex.timeline.some((e) => e.kind === "watch"), "completing with success opens the watch");

  const failed = await c.completeDeployment((await c.recordDeployment(release("staging", "v1.0.1", { service: "worker" }))).deployment_id, "failed");
  assert.equal(failed.status, "failed");
});

test("executeRollback resolves to the seed's success result and getHistory lists it", async () => {
  const c = client();
  const { good, bad } = await goodThenNew(c, "prod-ok");
  const res = await c.executeRollback(bad.deployment_id, "Critical bug in payment flow", randomUUID());
  assert.equal(res.success, true, JSON.stringify(res));
  assert.match(res.event_id, /^[0-9a-f-]{36}$/);
  assert.equal(res.target_deployment.deployment_id, good.deployment_id);
  assert.equal(res.target_deployment.version, "v2.5.2");
  assert.equal(res.target_deployment.git_commit, good.git_commit);
  assert.equal(res.validation.compliant, true);
  assert.deepEqual(res.validation.violations, []);
  assert.ok(["success", "in_progress"].includes(res.status));

  const hist = await c.getHistory(10, { environment: "prod-ok" });
  assert.equal(hist.length, 1);
  assert.equal(hist[0].event_id, res.event_id);
  assert.equal(hist[0].trigger_reason, "Critical bug in payment flow");
  assert.equal(hist[0].trigger_type, "manual");
  assert.equal((await c.getDeployment(bad.deployment_id)).status, "rolled_back");
});

test("executeRollback resolves a constitutional rejection (422) to success false with error and validation", async () => {
  const c = client();
  const only = await c.recordDeployment(release("prod-reject", "v1.0.0"));
  const res = await c.executeRollback(only.deployment_id, "no target to go back to");
  assert.equal(res.success, false);
  assert.equal(res.error, "Constitutional validation failed");
  assert.equal(res.http_status, 422);
  assert.equal(res.code, "rejected");
  assert.equal(res.validation.compliant, false);
  assert.deepEqual(res.validation.violations, ["No valid rollback target found"]);
  assert.match(res.event_id, /^[0-9a-f-]{36}$/, "the rejected rollback is an event too");
  assert.equal("target_deployment" in res, false);
  const hist = await c.getHistory(5, { deployment_id: only.deployment_id });
  assert.equal(hist[0].status, "aborted");
});

test("executeRollback resolves the loser of a race (409) to success false naming the winner", async () => {
  const c = client();
  const { bad } = await goodThenNew(c, "prod-race");
  const [a, b] = await Promise.all([
    c.executeRollback(bad.deployment_id, "race one"),
    client("rollback").executeRollback(bad.deployment_id, "race two"),
  ]);
  const results = [a, b];
  const won = results.filter((r) => r.success);
  const lost = results.filter((r) => !r.success);
  assert.equal(won.length, 1, JSON.stringify(results));
  assert.equal(lost.length, 1, JSON.stringify(results));
  assert.equal(lost[0].http_status, 409, JSON.stringify(lost[0]));
  assert.equal(lost[0].code, "conflict");
  assert.ok(lost[0].error.length > 0);
  assert.equal(lost[0].event_id, won[0].event_id, "the 409 names the rollback that won");
  // Only one rollback happened.
  const hist = await c.getHistory(10, { environment: "prod-race" });
  assert.equal(hist.length, 1);

  // Asking again once it is rolled back is a 409 too, never a second rollback.
  const again = await c.executeRollback(bad.deployment_id, "again");
  assert.equal(again.success, false);
  assert.equal(again.http_status, 409);
});

test("executeRollback resolves every other error answer to success false with code and field", async () => {
  const bad = await client().executeRollback("deployment-uuid", "reason");
  assert.equal(bad.success, false);
  assert.equal(bad.http_status, 400);
  assert.equal(bad.code, "invalid");
  assert.equal(bad.field, "deployment_id");
  assert.match(bad.error, /deployment_id/);

  const unknown = await client().executeRollback(randomUUID(), "reason");
  assert.equal(unknown.success, false);
  assert.equal(unknown.http_status, 404);
  assert.equal(unknown.code, "not_found");

  const forbidden = await client("deploy").executeRollback(randomUUID(), "reason");
  assert.equal(forbidden.success, false);
  assert.equal(forbidden.code, "forbidden");
  assert.match(forbidden.error, /rollback/);

  const wrongKey = await new RollbackService(roman.url, "roman_not_a_key_0000000000").executeRollback(randomUUID(), "reason");
  assert.equal(wrongKey.success, false);
  assert.equal(wrongKey.code, "unauthorized");
});

test("other calls reject with RomanApiError carrying roman's code, status and field", async () => {
  const c = client();
  await assert.rejects(c.recordDeployment(release("Not Valid", "v1")), (e) => {
    assert.ok(e instanceof RomanApiError && e instanceof RomanError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid");
    assert.equal(e.field, "environment");
    return true;
  });
  await assert.rejects(c.recordDeployment({ environment: "staging", version: "v1", git_commit: "abc" }), (e) => {
    assert.equal(e.code, "invalid");
    assert.equal(e.field, "git_branch");
    assert.match(e.message, /missing required field "git_branch"/);
    return true;
  });
  await assert.rejects(c.getDeployment(randomUUID()), (e) => e instanceof RomanApiError && e.status === 404 && e.code === "not_found");
  await assert.rejects(client("read").recordDeployment(release("staging", "v9")), (e) => e instanceof RomanApiError && e.code === "forbidden");
  await assert.rejects(c.getHistory(0), (e) => e instanceof RomanApiError && e.field === "limit");
  const rec = await c.recordDeployment(release("staging", "v2.0.0"));
  await c.completeDeployment(rec.deployment_id, "failed");
  await assert.rejects(c.completeDeployment(rec.deployment_id, "success"), (e) => {
    assert.equal(e.status, 409);
    assert.equal(e.code, "conflict");
    assert.match(e.message, /failed/);
    return true;
  });
});

test("reportErrors stores one event or a batch, and enough of them roll a watched release back", async () => {
  const c = client();
  const { bad } = await goodThenNew(c, "prod-errors");
  await c.completeDeployment(bad.deployment_id);
  const one = await c.reportErrors({ deployment_id: bad.deployment_id, message: "TypeError: x is undefined" });
  assert.equal(one.success, true);
  assert.equal(one.accepted, 1);
  assert.deepEqual(one.deployment_ids, [bad.deployment_id]);
  const batch = await c.reportErrors(Array.from({ length: 9 }, (_, i) => ({ environment: "prod-errors", message: `boom ${i}` })));
  assert.equal(batch.accepted, 9);
  assert.deepEqual(batch.deployment_ids, [bad.deployment_id], "without deployment_id they count for the current release");
  // The monitor rolls the release back on the error rate.
  let d;
  for (let i = 0; i < 100; i++) {
    d = await c.getDeployment(bad.deployment_id);
    if (d.status === "rolled_back") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(d.status, "rolled_back");
  const ex = await c.explain(bad.deployment_id);
  assert.equal(ex.verdict.rolled_back, true);
  assert.match(ex.verdict.why, /High error rate/);
  await assert.rejects(c.reportErrors([]), (e) => e instanceof RomanApiError && e.code === "invalid");
});

test("a closed port rejects with RomanNetworkError, never an API error", async () => {
  const port = await closedPort();
  const c = new RollbackService(`http://127.0.0.1:${port}`, roman.keys.admin);
  await assert.rejects(c.getDeployment(randomUUID()), (e) => {
    assert.ok(e instanceof RomanNetworkError, String(e));
    assert.ok(!(e instanceof RomanApiError));
    assert.ok(!(e instanceof RomanTimeoutError));
    assert.equal(e.code, "network");
    assert.match(e.message, /cannot reach roman/);
    assert.match(e.message, /ECONNREFUSED/);
    return true;
  });
  await assert.rejects(c.executeRollback(randomUUID(), "r"), (e) => e instanceof RomanNetworkError && e.code === "network");
});

test("a server that does not answer rejects with RomanTimeoutError after the call's timeout", async () => {
  const silent = await silentServer();
  try {
    const c = new RollbackService(silent.url, "k".repeat(20), { timeoutMs: 200 });
    const t0 = Date.now();
    await assert.rejects(c.checkHealth(randomUUID()), (e) => {
      assert.ok(e instanceof RomanTimeoutError && e instanceof RomanNetworkError, String(e));
      assert.equal(e.code, "timeout");
      assert.equal(e.timeoutMs, 200);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, "the timeout ended the call");
    // A per-call timeout overrides the client's; executeRollback has its own.
    await assert.rejects(c.executeRollback(randomUUID(), "r", undefined, { timeoutMs: 150 }), (e) => e instanceof RomanTimeoutError && e.timeoutMs === 150);
    // The caller's own signal aborts with code "aborted", not a timeout.
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    await assert.rejects(c.getDeployment(randomUUID(), { signal: ctl.signal, timeoutMs: 5000 }), (e) => e instanceof RomanNetworkError && e.code === "aborted");
  } finally {
    await silent.close();
  }
});

test("answers that are not roman's JSON: an error page resolves, a 2xx without JSON rejects", async () => {
  const { createServer } = await import("node:http");
  const srv = createServer((req, res) => {
    if (req.url.startsWith("/auto-rollback")) {
      res.writeHead(502, { "Content-Type": "text/html" }).end("<html>Bad Gateway</html>");
    } else {
      res.writeHead(200, { "Content-Type": "text/html" }).end("<html>hello</html>");
    }
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const c = new RollbackService(`http://127.0.0.1:${srv.address().port}`, "k".repeat(20));
    const res = await c.executeRollback(randomUUID(), "r");
    assert.deepEqual(res, { success: false, error: "roman answered HTTP 502", http_status: 502, code: "internal" });
    await assert.rejects(c.getDeployment(randomUUID()), (e) => e instanceof RomanApiError && e.code === "invalid_response" && e.status === 200);
  } finally {
    await new Promise((r) => srv.close(r));
  }
});

test("a Supabase-style base URL calls the seed's /functions/v1 paths", async () => {
  assert.equal(isSupabaseURL("https://abcdefgh.supabase.co"), true);
  assert.equal(isSupabaseURL("https://roman.example.com"), false);
  assert.equal(isSupabaseURL("http://127.0.0.1:8080/functions/v1/"), true);

  // The Supabase host is routed to the local roman by the fetch; the paths are the client's.
  const seen = [];
  const fetchToRoman = async (url, init) => {
    const u = new URL(url);
    seen.push(`${u.origin} ${init.method} ${u.pathname}`);
    sent.push(`${init.method} ${u.pathname}`);
    return fetch(roman.url + u.pathname + u.search, init);
  };
  const supa = new RollbackService("https://abcdefgh.supabase.co", roman.keys.admin, { fetch: fetchToRoman });
  assert.equal(supa.seedPaths, true);
  const only = await supa.recordDeployment(release("prod-supabase", "v1.0.0"));
  const res = await supa.executeRollback(only.deployment_id, "Critical bug in payment flow");
  assert.equal(res.success, false);
  assert.equal(res.error, "Constitutional validation failed");
  const check = await supa.checkHealth(only.deployment_id);
  assert.equal(check.should_rollback, false);
  const hist = await supa.getHistory(10);
  assert.ok(hist.length >= 1);
  assert.deepEqual(seen, [
    "https://abcdefgh.supabase.co POST /deployments",
    "https://abcdefgh.supabase.co POST /functions/v1/auto-rollback",
    "https://abcdefgh.supabase.co POST /functions/v1/auto-rollback/check",
    "https://abcdefgh.supabase.co GET /functions/v1/auto-rollback/history",
  ]);

  // A base URL that ends in /functions/v1 works the same against roman itself.
  const direct = new RomanClient(roman.url + "/functions/v1", roman.keys.admin, { fetch: recordingFetch() });
  assert.equal(direct.baseURL, roman.url);
  const again = await direct.executeRollback(only.deployment_id, "again");
  assert.equal(again.http_status, 422);
  assert.equal(sent.at(-1), "POST /functions/v1/auto-rollback");
  assert.equal((await direct.getDeployment(only.deployment_id)).deployment_id, only.deployment_id);
  assert.equal(sent.at(-1), `GET /deployments/${only.deployment_id}`);
});

test("the constructor refuses a bad URL", () => {
  assert.throws(() => new RollbackService("", "k"), TypeError);
  assert.throws(() => new RollbackService("not a url", "k"), /invalid server URL/);
  assert.throws(() => new RollbackService("ftp://x", "k"), /http or https/);
});

test("every request these tests sent is a route of openapi.json marked for the TypeScript client", async () => {
  const { readFileSync } = await import("node:fs");
  const spec = JSON.parse(readFileSync(new URL("../../../api/openapi.json", import.meta.url), "utf8"));
  const routes = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (op && op["x-clients"]?.includes("typescript")) {
        routes.push({ method: m.toUpperCase(), re: new RegExp("^" + path.replace(/\{[^}]+\}/g, "[^/]+") + "$") });
      }
    }
  }
  assert.ok(sent.length > 20, `requests were recorded (${sent.length})`);
  const stray = [...new Set(sent)].filter((r) => {
    const [method, path] = r.split(" ");
    return !routes.some((x) => x.method === method && x.re.test(path));
  });
  assert.deepEqual(stray, []);
});
