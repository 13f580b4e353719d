// Starts a real roman for the node tests: the binary built from this
// repository (ROMAN_BIN, or `go build` into a temporary directory), `roman
// serve` on a free loopback port with a fresh SQLite file and generated keys.
// The action's tests use it too.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is clients/typescript/test/roman-server.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let built;

/** The path of a roman binary: $ROMAN_BIN, or one built once per process. */
export function romanBinary() {
  if (process.env.ROMAN_BIN) {
    return process.env.ROMAN_BIN;
  }
  if (!built) {
    const dir = mkdtempSync(join(tmpdir(), "roman-bin-"));
    built = join(dir, "roman");
    execFileSync("go", ["build", "-o", built, "./cmd/roman"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return built;
}

function token() {
  return "roman_test_" + randomBytes(18).toString("hex");
}

/**
 * Starts `roman serve` and resolves once it listens. env adds ROMAN_*
 * settings (e.g. ROMAN_WATCH_WINDOW). The result has url, the keys by role,
 * the server's log so far (log()), and stop().
 */
export async function startRoman(env = {}) {
  const bin = romanBinary();
  const dir = mkdtempSync(join(tmpdir(), "roman-node-test-"));
  const keys = { admin: token(), rollback: token(), deploy: token(), read: token() };
  const child = spawn(bin, ["serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      ROMAN_LISTEN: "127.0.0.1:0",
      ROMAN_DATABASE: "sqlite://" + join(dir, "roman.db"),
      ROMAN_API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(","),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolveURL, reject) => {
    const timer = setTimeout(() => reject(new Error("roman serve did not start listening within 30 s:\n" + log)), 30_000);
    const onData = (chunk) => {
      log += chunk.toString();
      const m = /msg="roman listening" addr=(\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolveURL("http://" + m[1]);
      }
    };
    child.stderr.on("data", onData);
    child.stdout.on("data", (c) => (log += c.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`roman serve exited with ${code} before listening:\n${log}`));
    });
  });
  let stopped = false;
  return {
    url,
    keys,
    dir,
    log: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A loopback server that accepts connections and never answers, for
 * timeouts. Resolves to {url, close()}.
 */
export async function silentServer() {
  const sockets = new Set();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        srv.close(r);
      }),
  };
}

/** Whether Go is available to build roman (or ROMAN_BIN names a binary). */
export function canRunRoman() {
  if (process.env.ROMAN_BIN) return existsSync(process.env.ROMAN_BIN);
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
