// The seed's TypeScript snippet (ROLLBACK_PROCEDURES.md, "Via TypeScript
// Service"), copied into test/seed/snippet.ts with only the import path
// changed, compiles under `tsc --strict` and runs against a real roman.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { repoRoot, startRoman } from "./roman-server.js";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const snippet = join(pkg, "test/seed/snippet.ts");
const seedImport = "import RollbackService from '@/services/rollbackService';";
const ourImport = "import RollbackService from '../../src/index.js';";

let roman;
let out;

before(async () => {
  roman = await startRoman();
  out = mkdtempSync(join(tmpdir(), "roman-seed-snippet-"));
});

after(async () => {
  await roman?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

test("the snippet is the seed's, with only the import path changed", (t) => {
  const doc = process.env.ROMAN_SEED_DOC ?? join(repoRoot, "../shared/seed/ROLLBACK_PROCEDURES.md");
  if (!existsSync(doc)) {
    t.skip(`the seed document is not at ${doc} (set ROMAN_SEED_DOC)`);
    return;
  }
  const m = /#### 3\. Via TypeScript Service\s*```typescript\n([\s\S]*?)```/.exec(readFileSync(doc, "utf8"));
  assert.ok(m, "the seed's TypeScript snippet was found");
  const seed = m[1];
  assert.ok(seed.includes(seedImport));
  assert.equal(readFileSync(snippet, "utf8"), seed.replace(seedImport, ourImport));
});

test("the snippet compiles under tsc --strict and runs against roman", () => {
  const tsc = join(pkg, "node_modules/typescript/bin/tsc");
  execFileSync(
    process.execPath,
    [tsc, "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--types", "node", "--skipLibCheck", "--rootDir", pkg, "--outDir", out, snippet],
    { cwd: pkg, stdio: ["ignore", "inherit", "inherit"] },
  );
  // The compiled files are ES modules, as in the package.
  writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }));
  const run = spawnSync(process.execPath, [join(out, "test/seed/snippet.js")], {
    env: { PATH: process.env.PATH, SUPABASE_URL: roman.url, SUPABASE_SERVICE_ROLE_KEY: roman.keys.admin },
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  // 'deployment-uuid' is the seed's placeholder, not a UUID: roman answers
  // 400 and the snippet takes its failure branch with roman's message.
  assert.equal(run.stderr.trim(), '❌ Rollback failed: invalid value for field "deployment_id": must be a UUID');
  assert.equal(run.stdout, "");
});
