// GitHub Actions' conventions for a JavaScript action, without the toolkit:
// inputs from INPUT_* variables, outputs and environment for later steps in
// the files GITHUB_OUTPUT and GITHUB_ENV (the multiline-safe heredoc form),
// workflow commands on stdout (add-mask, error, warning) and the job summary
// appended to GITHUB_STEP_SUMMARY.

import { appendFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { EOL } from "node:os";

/**
 * The value of input name: the runner sets INPUT_<NAME> with the name upper-
 * cased and spaces turned into underscores (hyphens stay). Trimmed; "" when
 * the input was not given and has no default.
 */
export function getInput(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

/** Escapes a workflow command's message. */
export function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** Escapes a workflow command's property value. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

function command(name: string, props: Record<string, string>, message: string): void {
  const p = Object.entries(props)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k}=${escapeProperty(v)}`)
    .join(",");
  process.stdout.write(`::${name}${p ? " " + p : ""}::${escapeData(message)}${EOL}`);
}

/** Tells the runner to mask value in every log line from now on. */
export function addMask(value: string): void {
  if (value) command("add-mask", {}, value);
}

/** An error annotation. */
export function error(message: string, title = "roman"): void {
  command("error", { title }, message);
}

/** A warning annotation. */
export function warning(message: string, title = "roman"): void {
  command("warning", { title }, message);
}

/** A plain log line. */
export function info(message: string): void {
  process.stdout.write(message + EOL);
}

/** Writes name=value to a GitHub file command (GITHUB_OUTPUT, GITHUB_ENV) in the heredoc form. */
function fileCommand(fileVar: string, name: string, value: string): boolean {
  const file = process.env[fileVar];
  if (!file) return false;
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter)) {
    throw new Error(`${fileVar}: ${name} contains the delimiter`);
  }
  appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, "utf8");
  return true;
}

/** Sets a step output (GITHUB_OUTPUT). */
export function setOutput(name: string, value: string): void {
  if (!fileCommand("GITHUB_OUTPUT", name, value)) {
    info(`(GITHUB_OUTPUT is not set; output ${name}=${value})`);
  }
}

/** Sets an environment variable for the later steps of the job (GITHUB_ENV). */
export function exportVariable(name: string, value: string): void {
  process.env[name] = value;
  fileCommand("GITHUB_ENV", name, value);
}

/** Appends markdown to the job summary (GITHUB_STEP_SUMMARY), when the runner gave one. */
export function appendSummary(markdown: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (file) appendFileSync(file, markdown.endsWith("\n") ? markdown : markdown + "\n", "utf8");
}

/** Escapes text for a markdown table cell. */
export function cell(s: unknown): string {
  return String(s ?? "").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** A markdown table of [label, value] rows. */
export function table(rows: [string, unknown][]): string {
  return ["| | |", "| --- | --- |", ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)].join("\n") + "\n";
}

/** The URL of the workflow run, from GitHub's default variables. */
export function runURL(env: NodeJS.ProcessEnv = process.env): string {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}` : "";
}
