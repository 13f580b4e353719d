// The committed bundle is what the sources build to, needs nothing but
// Node's own modules, and is what action.yml runs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { builtinModules } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const actionDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const committed = join(actionDir, "dist/index.js");

test("the committed action/dist/index.js equals a fresh build of action/src", () => {
  const dir = mkdtempSync(join(tmpdir(), "roman-action-bundle-"));
  try {
    const fresh = join(dir, "index.js");
    execFileSync(process.execPath, [join(actionDir, "build.mjs"), fresh], { cwd: actionDir, stdio: ["ignore", "inherit", "inherit"] });
    const want = readFileSync(fresh, "utf8");
    const got = readFileSync(committed, "utf8");
    assert.ok(got === want, "action/dist/index.js is stale: run `npm run build` in action/ and commit dist/index.js");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the bundle requires only Node's built-in modules", () => {
  const src = readFileSync(committed, "utf8");
  const required = [...src.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.ok(required.length > 0);
  const builtins = new Set(builtinModules);
  for (const r of required) {
    assert.ok(builtins.has(r.replace(/^node:/, "")), `the bundle requires ${r}`);
  }
});

test("action.yml runs the committed bundle on node24", () => {
  const yml = readFileSync(join(actionDir, "../action.yml"), "utf8");
  assert.match(yml, /^runs:\n  using: 'node24'\n  main: 'action\/dist\/index\.js'\n/m);
});
