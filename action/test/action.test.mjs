// The bundled action (action/dist/index.js) run as the GitHub runner runs
// it — `node` with INPUT_* variables for its inputs (action.yml's defaults
// filled in as the runner does), GitHub's default variables, and the files
// GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY — against a real roman
// started by the test.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { startRoman } from "../../clients/typescript/test/roman-server.js";

const actionDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(actionDir, "..");
const bundle = join(repoRoot, "action/dist/index.js");

/** The inputs action.yml declares, with their defaults (a reader for this file's simple layout). */
export function declaredInputs() {
  const yml = readFileSync(join(repoRoot, "action.yml"), "utf8");
  const inputs = new Map();
  let section = "";
  let current = "";
  for (const line of yml.split("\n")) {
    let m;
    if ((m = /^(\w+):/.exec(line))) {
      section = m[1];
    } else if (section === "inputs" && (m = /^  ([A-Za-z_][\w-]*):\s*$/.exec(line))) {
      current = m[1];
      inputs.set(current, undefined);
    } else if (section === "inputs" && current && (m = /^    default:\s*'([^']*)'\s*$/.exec(line))) {
      inputs.set(current, m[1]);
    }
  }
  return inputs;
}

/** The runner's parser of GITHUB_OUTPUT/GITHUB_ENV: NAME=VALUE lines and NAME<<DELIM heredocs. */
export function parseFileCommands(text) {
  const out = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const eq = line.indexOf("=");
    const hd = line.indexOf("<<");
    if (eq >= 0 && (hd < 0 || eq < hd)) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
      continue;
    }
    assert.ok(hd > 0, `invalid format: ${line}`);
    const name = line.slice(0, hd);
    const delim = line.slice(hd + 2);
    const value = [];
    for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]);
    assert.ok(i < lines.length, `matching delimiter not found '${delim}'`);
    out[name] = value.join("\n");
  }
  return out;
}

let dir;
let n = 0;

/**
 * Runs the bundle like the runner: inputs → INPUT_<NAME> (upper case,
 * hyphens and underscores kept), action.yml's defaults for the rest. Resolves
 * to {code, stdout, stderr, outputs, env, summary}.
 */
function runAction(inputs, extraEnv = {}, onStdout = () => {}) {
  const declared = declaredInputs();
  for (const k of Object.keys(inputs)) assert.ok(declared.has(k), `input ${k} is declared in action.yml`);
  const step = join(dir, `step-${++n}`);
  const files = { GITHUB_OUTPUT: step + ".output", GITHUB_ENV: step + ".env", GITHUB_STEP_SUMMARY: step + ".summary" };
  for (const f of Object.values(files)) writeFileSync(f, "");
  const env = {
    PATH: process.env.PATH,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: "octo-org/shop",
    GITHUB_RUN_ID: "1658821493",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_WORKFLOW: "Deploy",
    GITHUB_ACTOR: "octocat",
    GITHUB_EVENT_NAME: "push",
    GITHUB_SHA: "ffac537e6cbbf934b08745a378932722df287a53",
    GITHUB_REF: "refs/heads/main",
    GITHUB_REF_NAME: "main",
    ...files,
    ...extraEnv,
  };
  for (const [k, def] of declared) {
    if (def !== undefined) env[`INPUT_${k.toUpperCase()}`] = def;
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, "_").toUpperCase()}`] = v;
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bundle], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
      onStdout(stdout);
    });
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveRun({
        code,
        stdout,
        stderr,
        outputs: parseFileCommands(readFileSync(files.GITHUB_OUTPUT, "utf8")),
        env: parseFileCommands(readFileSync(files.GITHUB_ENV, "utf8")),
        summary: readFileSync(files.GITHUB_STEP_SUMMARY, "utf8"),
      });
    });
  });
}

/** The error annotations of a run's stdout. */
function errors(stdout) {
  return stdout.split("\n").filter((l) => l.startsWith("::error"));
}

let roman; // a short watch window: a healthy release passes in seconds
let slow; // a long one: the release is rolled back while watch waits

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "roman-action-test-"));
  [roman, slow] = await Promise.all([
    startRoman({ ROMAN_WATCH_WINDOW: "2s", ROMAN_VERIFY_WINDOW: "0s" }),
    startRoman({ ROMAN_WATCH_WINDOW: "10m", ROMAN_VERIFY_WINDOW: "0s" }),
  ]);
});

after(async () => {
  await Promise.all([roman?.stop(), slow?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api(srv, method, path, body, key = srv.keys.admin) {
  const r = await fetch(srv.url + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// The scenarios use their own environments (or their own roman), so they run
// at once: most of their time is waiting for roman and for node to start.
describe("the bundled action against roman", { concurrency: true }, () => {
  test("record, complete and watch pass for a healthy release", async () => {
    const common = { server: roman.url, token: roman.keys.deploy };
    const rec = await runAction({ ...common, mode: "record", environment: "production", service: "shop" });
    assert.equal(rec.code, 0, rec.stdout + rec.stderr);
    assert.deepEqual(errors(rec.stdout), []);
    const id = rec.outputs.deployment_id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(rec.env.ROMAN_DEPLOYMENT_ID, id, "later steps of the job get the id");
    // The token is masked before anything else is printed, and never printed otherwise.
    assert.equal(rec.stdout.split("\n")[0], `::add-mask::${roman.keys.deploy}`);
    assert.equal(rec.stdout.split(roman.keys.deploy).length, 2);
    assert.match(rec.summary, /### roman: deployment recorded/);
    assert.match(rec.summary, new RegExp(id));

    const d = await api(roman, "GET", `/deployments/${id}`);
    assert.equal(d.version, "ffac537e6cbbf934b08745a378932722df287a53", "version defaults to GITHUB_SHA on a branch");
    assert.equal(d.git_commit, "ffac537e6cbbf934b08745a378932722df287a53");
    assert.equal(d.git_branch, "main");
    assert.equal(d.service, "shop");
    assert.equal(d.status, "in_progress");
    assert.equal(d.metadata.run_url, "https://github.com/octo-org/shop/actions/runs/1658821493");
    assert.equal(d.metadata.actor, "octocat");
    assert.equal(d.metadata.workflow, "Deploy");

    // complete takes the id from the environment the record step exported.
    const done = await runAction({ ...common, mode: "complete" }, { ROMAN_DEPLOYMENT_ID: id });
    assert.equal(done.code, 0, done.stdout);
    assert.equal(done.outputs.deployment_id, id);
    assert.match(done.stdout, /roman now watches it/);
    assert.equal((await api(roman, "GET", `/deployments/${id}`)).status, "success");

    const w = await runAction({ server: roman.url, token: roman.keys.read, mode: "watch", deployment_id: id, poll_interval: "0.2", watch_timeout: "30" });
    assert.equal(w.code, 0, w.stdout);
    assert.deepEqual(errors(w.stdout), []);
    assert.equal(w.outputs.verdict, "pass");
    assert.equal(w.outputs.deployment_id, id);
    // The pass is roman's end of the window, not a guess: the release is marked
    // healthy and its timeline has the window's end.
    assert.match(w.stdout, /passed its watch window: Not rolled back: the watch window passed with no trigger firing/);
    assert.match(w.summary, /✅ roman: the release passed its watch window/);
    assert.match(w.summary, /\*\*Verdict:\*\* `pass`/);
    assert.match(w.summary, /window_end/);
    assert.equal((await api(roman, "GET", `/deployments/${id}`)).health_check_passed, true);
  });

  test("record takes the tag as the version on a tag push", async () => {
    const rec = await runAction(
      { server: roman.url, token: roman.keys.deploy, mode: "record", environment: "staging", metadata: '{"ticket": "OPS-7"}' },
      { GITHUB_REF: "refs/tags/v2.5.3", GITHUB_REF_NAME: "v2.5.3" },
    );
    assert.equal(rec.code, 0, rec.stdout);
    const d = await api(roman, "GET", `/deployments/${rec.outputs.deployment_id}`);
    assert.equal(d.version, "v2.5.3");
    assert.equal(d.metadata.ticket, "OPS-7");
    assert.equal(d.metadata.run_url, "https://github.com/octo-org/shop/actions/runs/1658821493");
  });

  test("watch fails with roman's reason when roman rolls the release back during it", async () => {
    // The known-good release roman can go back to.
    await api(slow, "POST", "/deployments", {
      environment: "production", version: "v2.5.2", git_commit: "a7f3b29", git_branch: "main",
      status: "success", health_check_passed: true, deployed_at: new Date(Date.now() - 600_000).toISOString(),
    });
    const common = { server: slow.url, token: slow.keys.deploy };
    const rec = await runAction({ ...common, mode: "record", environment: "production", version: "v2.5.3" });
    assert.equal(rec.code, 0, rec.stdout);
    const id = rec.outputs.deployment_id;
    const done = await runAction({ ...common, mode: "complete", deployment_id: id });
    assert.equal(done.code, 0, done.stdout);

    let seenWatching;
    const watched = new Promise((r) => (seenWatching = r));
    const watching = runAction({ server: slow.url, token: slow.keys.read, mode: "watch", deployment_id: id, poll_interval: "0.2", watch_timeout: "60" }, {}, (out) => {
      if (out.includes(`deployment ${id} is success`)) seenWatching();
    });
    // Once watch has seen the release live, the application reports errors
    // above the threshold (> 5/minute).
    await Promise.race([watched, watching]);
    await api(slow, "POST", "/errors", { events: Array.from({ length: 8 }, (_, i) => ({ deployment_id: id, message: `PaymentError: card declined ${i}` })) }, slow.keys.deploy);
    const w = await watching;
    assert.equal(w.code, 1, w.stdout);
    assert.equal(w.outputs.verdict, "rolled_back");
    const errs = errors(w.stdout);
    assert.equal(errs.length, 1, w.stdout);
    assert.match(errs[0], /^::error title=roman::roman rolled the release back: Rolled back by rollback [0-9a-f-]{36} \(automatic\): High error rate: 8 errors\/minute/);
    assert.match(w.summary, /roman rolled the release back/);
    assert.match(w.summary, /`rolled_back`/);
    assert.match(w.summary, /High error rate: 8 errors\/minute/);
    assert.equal((await api(slow, "GET", `/deployments/${id}`)).status, "rolled_back");
  });

  test("watch fails at once when a trigger fired and roman cannot roll back (no known-good release)", async () => {
    const common = { server: slow.url, token: slow.keys.deploy };
    const rec = await runAction({ ...common, mode: "record", environment: "canary", version: "v0.1.0" });
    const id = rec.outputs.deployment_id;
    assert.equal((await runAction({ ...common, mode: "complete", deployment_id: id })).code, 0);
    let seenWatching;
    const watched = new Promise((r) => (seenWatching = r));
    const watching = runAction({ server: slow.url, token: slow.keys.read, mode: "watch", deployment_id: id, poll_interval: "0.2", watch_timeout: "60" }, {}, (out) => {
      if (out.includes(`deployment ${id} is success`)) seenWatching();
    });
    await Promise.race([watched, watching]);
    await api(slow, "POST", "/errors", { events: Array.from({ length: 7 }, (_, i) => ({ deployment_id: id, message: `boom ${i}` })) }, slow.keys.deploy);
    const w = await watching;
    assert.equal(w.code, 1, w.stdout);
    assert.equal(w.outputs.verdict, "fail");
    assert.match(errors(w.stdout)[0], /a trigger fired and roman did not roll back: Not rolled back: .*No valid rollback target found/);
    assert.equal((await api(slow, "GET", `/deployments/${id}`)).status, "success", "roman did not roll it back");
  });

  test("watch fails with verdict timeout when roman has not decided in time", async () => {
    const rec = await runAction({ server: slow.url, token: slow.keys.deploy, mode: "record", environment: "qa" });
    const w = await runAction({ server: slow.url, token: slow.keys.read, mode: "watch", deployment_id: rec.outputs.deployment_id, poll_interval: "0.2", watch_timeout: "1" });
    assert.equal(w.code, 1);
    assert.equal(w.outputs.verdict, "timeout");
    assert.match(errors(w.stdout)[0], /had not finished watching deployment .* after 1 s: Not rolled back: the deployment has not completed \(status in_progress\)/);
  });

  test("bad inputs and roman's refusals are error annotations with exit code 1", async () => {
    const cases = [
      [{ mode: "record", token: "t".repeat(20), environment: "production" }, /input server is required/],
      [{ mode: "deploy", server: roman.url, token: roman.keys.deploy }, /input mode must be record, complete or watch, got "deploy"/],
      [{ mode: "record", server: roman.url, token: roman.keys.deploy }, /input environment is required/],
      [{ mode: "complete", server: roman.url, token: roman.keys.deploy }, /input deployment_id is required/],
      [{ mode: "record", server: roman.url, token: roman.keys.deploy, environment: "production", metadata: "[1]" }, /input metadata must be a JSON object/],
      [{ mode: "record", server: roman.url, token: roman.keys.read, environment: "production" }, /roman answered 403 \(forbidden\): .*deploy/],
      [{ mode: "record", server: roman.url, token: "roman_wrong_key_000000000000", environment: "production" }, /roman answered 401 \(unauthorized\): missing or invalid API key/],
      [{ mode: "record", server: roman.url, token: roman.keys.deploy, environment: "Prod!" }, /roman answered 400 \(invalid\): invalid value for field "environment"/],
      [{ mode: "watch", server: roman.url, token: roman.keys.read, deployment_id: "00000000-0000-4000-8000-000000000000" }, /roman answered 404 \(not_found\)/],
      [{ mode: "record", server: "http://127.0.0.1:1", token: roman.keys.deploy, environment: "production" }, /cannot reach roman/],
    ];
    const runs = await Promise.all(cases.map(([inputs]) => runAction(inputs)));
    for (const [i, [inputs, want]] of cases.entries()) {
      const r = runs[i];
      assert.equal(r.code, 1, JSON.stringify(inputs) + r.stdout);
      const errs = errors(r.stdout);
      assert.equal(errs.length, 1, r.stdout);
      assert.match(errs[0], want);
      assert.match(r.summary, /❌ roman:/);
      assert.deepEqual(r.outputs, {});
    }
  });

  test("an error message with newlines is escaped in its annotation", async () => {
    const r = await runAction({ mode: "watch", server: roman.url, token: roman.keys.read, deployment_id: "x", watch_timeout: "1\n2" });
    assert.equal(r.code, 1);
    assert.match(errors(r.stdout)[0], /got "1\\n2"/);
  });
});
