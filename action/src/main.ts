// roman's GitHub Action: `record` a deployment, `complete` it, and `watch`
// it through roman's watch window, failing the job with roman's reason when
// roman rolls the release back or the window does not pass.

import {
  RollbackService,
  RomanApiError,
  RomanError,
  type Deployment,
  type Explanation,
  type JSONObject,
} from "../../clients/typescript/src/index.js";
import * as gh from "./github.js";

/** The action's version, sent as its User-Agent. */
const VERSION = "1";

/** A failure to report as an error annotation (exit code 1). */
export class ActionFailure extends Error {
  /** True when the job summary already tells about it. */
  readonly summarized: boolean;

  constructor(message: string, summarized = false) {
    super(message);
    this.summarized = summarized;
  }
}

/** What watch concludes: pass, or why not. */
export type Verdict = "pass" | "rolled_back" | "fail" | "timeout";

interface Inputs {
  mode: string;
  server: string;
  token: string;
  timeoutMs: number;
}

function seconds(name: string, def: number): number {
  const raw = gh.getInput(name);
  if (raw === "") return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new ActionFailure(`input ${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function required(name: string, value: string, hint = ""): string {
  if (!value) throw new ActionFailure(`input ${name} is required${hint}`);
  return value;
}

function client(inp: Inputs): RollbackService {
  return new RollbackService(inp.server, inp.token, { timeoutMs: inp.timeoutMs, userAgent: `roman-action/${VERSION}` });
}

/** The deployment the step is about: the input, or the one recorded earlier in the job. */
function deploymentID(): string {
  return required("deployment_id", gh.getInput("deployment_id") || process.env.ROMAN_DEPLOYMENT_ID || "", " (or a record step earlier in the job)");
}

/** The metadata roman stores with the deployment: the run's link and context, plus the input's JSON object. */
export function metadata(env: NodeJS.ProcessEnv, extra: string): JSONObject {
  const m: JSONObject = {};
  const put = (k: string, v: string | undefined) => {
    if (v) m[k] = v;
  };
  put("run_url", gh.runURL(env));
  put("repository", env.GITHUB_REPOSITORY);
  put("workflow", env.GITHUB_WORKFLOW);
  put("run_id", env.GITHUB_RUN_ID);
  put("run_attempt", env.GITHUB_RUN_ATTEMPT);
  put("actor", env.GITHUB_ACTOR);
  put("event_name", env.GITHUB_EVENT_NAME);
  put("ref", env.GITHUB_REF);
  if (extra) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(extra);
    } catch {
      throw new ActionFailure("input metadata must be a JSON object");
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new ActionFailure("input metadata must be a JSON object");
    }
    Object.assign(m, parsed);
  }
  return m;
}

/** The version to record: the input, else the tag that triggered the run, else the commit. */
export function defaultVersion(env: NodeJS.ProcessEnv): string {
  if (env.GITHUB_REF?.startsWith("refs/tags/") && env.GITHUB_REF_NAME) return env.GITHUB_REF_NAME;
  return env.GITHUB_SHA ?? "";
}

async function record(inp: Inputs): Promise<void> {
  const env = process.env;
  const environment = required("environment", gh.getInput("environment"));
  const version = required("version", gh.getInput("version") || defaultVersion(env), " (GITHUB_SHA is not set)");
  const commit = required("commit", gh.getInput("commit") || env.GITHUB_SHA || "", " (GITHUB_SHA is not set)");
  // A pull request's GITHUB_REF_NAME is "<n>/merge"; its branch is GITHUB_HEAD_REF.
  const branch = required("branch", gh.getInput("branch") || env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || "", " (GITHUB_REF_NAME is not set)");
  const status = gh.getInput("status");
  const req = {
    environment,
    version,
    git_commit: commit,
    git_branch: branch,
    metadata: metadata(env, gh.getInput("metadata")),
    ...(gh.getInput("service") ? { service: gh.getInput("service") } : {}),
    ...(gh.getInput("deployed_by") ? { deployed_by: gh.getInput("deployed_by") } : {}),
    ...(gh.getInput("deployment_id") ? { deployment_id: gh.getInput("deployment_id") } : {}),
    ...(status ? { status: status as Deployment["status"] } : {}),
  };
  const d = await client(inp).recordDeployment(req);
  gh.info(`roman recorded deployment ${d.deployment_id}: ${d.service}/${d.environment} ${d.version} (commit ${d.git_commit}, branch ${d.git_branch}), status ${d.status}`);
  gh.setOutput("deployment_id", d.deployment_id);
  gh.exportVariable("ROMAN_DEPLOYMENT_ID", d.deployment_id);
  gh.appendSummary(`### roman: deployment recorded\n\n` + deploymentTable(d));
}

async function complete(inp: Inputs): Promise<void> {
  const id = deploymentID();
  const status = gh.getInput("status") || "success";
  if (status !== "success" && status !== "failed") {
    throw new ActionFailure(`input status must be success or failed for complete, got ${JSON.stringify(status)}`);
  }
  const d = await client(inp).completeDeployment(id, status);
  gh.info(`roman completed deployment ${d.deployment_id} with status ${d.status}` + (d.status === "success" ? "; roman now watches it" : ""));
  gh.setOutput("deployment_id", d.deployment_id);
  gh.appendSummary(`### roman: deployment completed (${d.status})\n\n` + deploymentTable(d));
}

function deploymentTable(d: Deployment): string {
  return gh.table([
    ["Deployment", `\`${d.deployment_id}\``],
    ["Service", d.service],
    ["Environment", d.environment],
    ["Version", d.version],
    ["Commit", d.git_commit],
    ["Branch", d.git_branch],
    ["Status", d.status],
  ]);
}

/** The verdict of one explain answer, or undefined while roman is still watching. */
export function judge(ex: Explanation): { verdict: Verdict; reason: string } | undefined {
  const d = ex.deployment;
  const windowEnded = ex.timeline.some((e) => e.kind === "window_end");
  switch (d.status) {
    case "rolled_back":
      return { verdict: "rolled_back", reason: `roman rolled the release back: ${ex.verdict.why}` };
    case "failed":
      return { verdict: "fail", reason: `the deployment failed (status failed): ${ex.verdict.why}` };
    case "success":
      if (windowEnded && d.health_check_passed) return { verdict: "pass", reason: ex.verdict.why };
      if (windowEnded) return { verdict: "fail", reason: `the watch window did not pass: ${ex.verdict.why}` };
      // A trigger fired but roman will not roll back by itself (storm
      // protection, a constitutional rejection, a rollback that could not
      // run): the window cannot pass any more and a human must act.
      if (ex.timeline.some((e) => e.kind === "suppressed" || e.kind === "manual_intervention")) {
        return { verdict: "fail", reason: `a trigger fired and roman did not roll back: ${ex.verdict.why}` };
      }
      return undefined;
    default:
      return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function watch(inp: Inputs): Promise<void> {
  const id = deploymentID();
  const limitMs = seconds("watch_timeout", 900) * 1000;
  const pollMs = seconds("poll_interval", 5) * 1000;
  const c = client(inp);
  const deadline = Date.now() + limitMs;
  gh.info(`roman: watching deployment ${id} (up to ${limitMs / 1000} s, polling every ${pollMs / 1000} s)`);
  let ex: Explanation | undefined;
  let result: { verdict: Verdict; reason: string } | undefined;
  let lastStatus = "";
  for (;;) {
    try {
      ex = await c.explain(id);
      result = judge(ex);
      if (ex.deployment.status !== lastStatus) {
        lastStatus = ex.deployment.status;
        gh.info(`roman: deployment ${id} is ${lastStatus}: ${ex.verdict.why}`);
      }
    } catch (e) {
      // roman restarting or a network blip must not fail the job; a refusal does.
      if (e instanceof RomanApiError && e.status < 500 && e.status !== 408 && e.status !== 429) throw e;
      gh.warning(`could not ask roman about deployment ${id}, retrying: ${(e as Error).message}`);
    }
    if (result) break;
    if (Date.now() + pollMs > deadline) {
      const why = ex ? ex.verdict.why : "roman did not answer";
      result = { verdict: "timeout", reason: `roman had not finished watching deployment ${id} after ${limitMs / 1000} s: ${why}` };
      break;
    }
    await sleep(pollMs);
  }
  gh.setOutput("deployment_id", id);
  gh.setOutput("verdict", result.verdict);
  gh.appendSummary(watchSummary(id, result, ex));
  if (result.verdict !== "pass") {
    throw new ActionFailure(result.reason, true);
  }
  gh.info(`roman: deployment ${id} passed its watch window: ${result.reason}`);
}

function watchSummary(id: string, r: { verdict: Verdict; reason: string }, ex?: Explanation): string {
  const icon = r.verdict === "pass" ? "✅" : r.verdict === "rolled_back" ? "⏪" : "❌";
  let md = `### ${icon} roman: ${r.verdict === "pass" ? "the release passed its watch window" : r.verdict === "rolled_back" ? "roman rolled the release back" : "the release did not pass its watch window"}\n\n`;
  md += `**Verdict:** \`${r.verdict}\` — ${gh.cell(r.reason)}\n\n`;
  if (ex) {
    md += deploymentTable(ex.deployment) + "\n";
    md += "<details><summary>Decision timeline (roman explain)</summary>\n\n| At | What | Severity | |\n| --- | --- | --- | --- |\n";
    for (const e of ex.timeline.slice(-40)) {
      md += `| ${gh.cell(e.at)} | ${gh.cell(e.kind)} | ${gh.cell(e.severity)} | ${gh.cell(e.summary)} |\n`;
    }
    md += `\n</details>\n\nRun \`roman explain ${id}\` for the whole story.\n`;
  }
  return md;
}

/** Runs the action; resolves to the process exit code. */
export async function run(): Promise<number> {
  const token = gh.getInput("token") || process.env.ROMAN_TOKEN || "";
  gh.addMask(token);
  try {
    const inp: Inputs = {
      mode: required("mode", gh.getInput("mode"), " (record, complete or watch)"),
      server: required("server", gh.getInput("server") || process.env.ROMAN_SERVER || ""),
      token: required("token", token),
      timeoutMs: seconds("request_timeout", 30) * 1000,
    };
    switch (inp.mode) {
      case "record":
        await record(inp);
        break;
      case "complete":
        await complete(inp);
        break;
      case "watch":
        await watch(inp);
        break;
      default:
        throw new ActionFailure(`input mode must be record, complete or watch, got ${JSON.stringify(inp.mode)}`);
    }
    return 0;
  } catch (e) {
    let msg: string;
    if (e instanceof ActionFailure) {
      msg = e.message;
    } else if (e instanceof RomanApiError) {
      msg = `roman answered ${e.status} (${e.code}): ${e.message}`;
    } else if (e instanceof RomanError) {
      msg = e.message;
    } else if (e instanceof TypeError) {
      msg = e.message;
    } else {
      msg = `unexpected error: ${String((e as Error)?.stack ?? e)}`;
    }
    gh.error(msg);
    if (!(e instanceof ActionFailure && e.summarized)) {
      gh.appendSummary(`### ❌ roman: ${gh.cell(msg)}\n`);
    }
    return 1;
  }
}

run().then((code) => {
  process.exitCode = code;
});
