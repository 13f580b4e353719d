// roman's TypeScript client: the seed's RollbackService, with the calls a
// pipeline needs around it. It uses only the platform's fetch (Node 20 and
// later, Deno, browsers) and has no runtime dependencies.

import type {
  CheckResult,
  Deployment,
  ErrorBatch,
  ErrorEvent,
  Explanation,
  HistoryQuery,
  IngestResponse,
  RecordDeploymentRequest,
  RollbackFailure,
  RollbackHistory,
  RollbackOutcome,
  RollbackRequest,
  RollbackResult,
  RomanErrorCode,
  UpdateDeploymentRequest,
  Validation,
} from "./types.js";

export type * from "./types.js";

/** One API operation the client calls: its OpenAPI operationId, method and path. */
export interface Operation {
  /** The operationId in roman's openapi.json. */
  readonly id: string;
  readonly method: "GET" | "POST" | "PATCH";
  /** The path template, with {deployment_id} style parameters. */
  readonly path: string;
  /**
   * True for the seed's edge-function routes, which roman also serves under
   * /functions/v1 (a Supabase-style base URL uses that prefix).
   */
  readonly seed?: boolean;
}

/**
 * Every route this client calls. The methods go through this table only,
 * and a test checks it against roman's openapi.json.
 */
export const operations = {
  recordDeployment: { id: "recordDeployment", method: "POST", path: "/deployments" },
  getDeployment: { id: "getDeployment", method: "GET", path: "/deployments/{deployment_id}" },
  updateDeployment: { id: "updateDeployment", method: "PATCH", path: "/deployments/{deployment_id}" },
  explainDeployment: { id: "explainDeployment", method: "GET", path: "/deployments/{deployment_id}/explain" },
  executeRollback: { id: "executeRollback", method: "POST", path: "/auto-rollback", seed: true },
  checkRollback: { id: "checkRollback", method: "POST", path: "/auto-rollback/check", seed: true },
  rollbackHistory: { id: "rollbackHistory", method: "GET", path: "/auto-rollback/history", seed: true },
  postErrors: { id: "postErrors", method: "POST", path: "/errors" },
} as const satisfies Record<string, Operation>;

/** The prefix of the seed's Supabase edge functions. */
export const SEED_PREFIX = "/functions/v1";

/** Default time a call may take before it rejects with RomanTimeoutError. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Default time executeRollback may take: roman answers a rollback once its
 * executor has finished (at most 30 s by default) or the rollback enters
 * its verify window, so it gets longer than other calls.
 */
export const DEFAULT_ROLLBACK_TIMEOUT_MS = 60_000;

/** Options of the client as a whole. */
export interface ClientOptions {
  /** Per-call timeout in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Timeout of executeRollback in milliseconds (default 60 s). */
  rollbackTimeoutMs?: number;
  /**
   * Use the /functions/v1 paths for the seed's routes. Default: true when
   * the base URL's host is a Supabase project (`<ref>.supabase.co`) or its
   * path ends in /functions/v1.
   */
  seedPaths?: boolean;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof fetch;
  /** The User-Agent header (where the platform lets it be set). */
  userAgent?: string;
}

/** Options of one call. */
export interface CallOptions {
  /** This call's timeout in milliseconds, overriding the client's. */
  timeoutMs?: number;
  /** Aborts the call; it then rejects with RomanNetworkError (code "aborted"). */
  signal?: AbortSignal;
}

/** Base class of every error this client rejects with. */
export class RomanError extends Error {
  /** A roman error code, or network, timeout or aborted for a transport failure. */
  readonly code: RomanErrorCode | "network" | "timeout" | "aborted";

  constructor(code: RomanError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RomanError";
    this.code = code;
  }
}

/**
 * roman answered with an error: its JSON error body, the HTTP status and
 * the code for it, and the field the message names (when it names one).
 */
export class RomanApiError extends RomanError {
  /** The HTTP status. */
  readonly status: number;
  /** The request field roman's message names, e.g. "deployment_id". */
  readonly field?: string;
  /** The rollback event a conflict or rejection is about. */
  readonly eventId?: string;
  /** The constitutional validation of a rejection (422). */
  readonly validation?: Validation;
  /** Seconds roman asked to wait before retrying (429, 503). */
  readonly retryAfter?: number;

  constructor(status: number, code: RomanErrorCode, message: string, extra: { field?: string; eventId?: string; validation?: Validation; retryAfter?: number } = {}) {
    super(code, message);
    this.name = "RomanApiError";
    this.status = status;
    this.field = extra.field;
    this.eventId = extra.eventId;
    this.validation = extra.validation;
    this.retryAfter = extra.retryAfter;
  }
}

/** roman could not be reached, or the connection failed before an answer (code "network"), or the caller aborted (code "aborted"). */
export class RomanNetworkError extends RomanError {
  constructor(message: string, options?: { cause?: unknown; code?: "network" | "aborted" | "timeout" }) {
    super(options?.code ?? "network", message, options);
    this.name = "RomanNetworkError";
  }
}

/** The call took longer than its timeout (code "timeout"). */
export class RomanTimeoutError extends RomanNetworkError {
  /** The timeout that ran out, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message: string) {
    super(message, { code: "timeout" });
    this.name = "RomanTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** roman's error code for an HTTP status (the server's own mapping). */
export function codeForStatus(status: number): RomanErrorCode {
  switch (status) {
    case 400:
    case 405:
      return "invalid";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 408:
      return "timeout";
    case 409:
      return "conflict";
    case 413:
      return "too_large";
    case 422:
      return "rejected";
    case 429:
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

const fieldPattern = /(?:field|parameter)s? "([^"]+)"/;

/** The first field or query parameter roman's error message names, if any. */
export function fieldOf(message: string): string | undefined {
  return fieldPattern.exec(message)?.[1];
}

/**
 * Whether a base URL is a Supabase project (https://<ref>.supabase.co),
 * whose edge functions live under /functions/v1.
 */
export function isSupabaseURL(url: string | URL): boolean {
  const u = typeof url === "string" ? new URL(url) : url;
  return /\.supabase\.(co|in)$/i.test(u.hostname) || u.pathname.replace(/\/+$/, "").endsWith(SEED_PREFIX);
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/**
 * roman's client: the seed's RollbackService(url, key). executeRollback
 * resolves to the seed's result for every answer roman gives; the other
 * calls resolve to roman's JSON and reject with RomanApiError for an error
 * answer, RomanNetworkError when roman cannot be reached and
 * RomanTimeoutError when a call takes longer than its timeout.
 */
export class RollbackService {
  readonly baseURL: string;
  readonly seedPaths: boolean;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #rollbackTimeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #userAgent?: string;

  /**
   * @param url roman's base URL, e.g. https://roman.example.com, or the
   *   Supabase project URL of the seed (https://<ref>.supabase.co).
   * @param key an API key of roman (Bearer token).
   */
  constructor(url: string, key: string, options: ClientOptions = {}) {
    if (!url) {
      throw new TypeError("RollbackService: the server URL is required");
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new TypeError(`RollbackService: invalid server URL ${JSON.stringify(url)}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new TypeError(`RollbackService: the server URL must be http or https, got ${u.protocol}`);
    }
    this.seedPaths = options.seedPaths ?? isSupabaseURL(u);
    let path = u.pathname.replace(/\/+$/, "");
    if (path.endsWith(SEED_PREFIX)) {
      path = path.slice(0, -SEED_PREFIX.length);
    }
    this.baseURL = u.origin + path;
    this.#key = key;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#rollbackTimeoutMs = options.rollbackTimeoutMs ?? DEFAULT_ROLLBACK_TIMEOUT_MS;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#userAgent = options.userAgent;
  }

  /**
   * Rolls a deployment back (POST /auto-rollback), as the seed's
   * RollbackService does. It resolves for every answer roman gives: roman's
   * result on 200 (success says whether the rollback completed), and
   * `{success: false, error, ...}` for a constitutional rejection (422, with
   * validation), a race with another rollback (409, with its event_id) and
   * any other error answer. It rejects only when roman cannot be reached or
   * the call times out (RomanNetworkError, RomanTimeoutError).
   */
  async executeRollback(
    deploymentId: string,
    reason: string,
    initiatedBy?: string,
    options: CallOptions & Pick<RollbackRequest, "trigger_type" | "with_migrations" | "override"> = {},
  ): Promise<RollbackOutcome> {
    const body: RollbackRequest = { deployment_id: deploymentId, trigger_reason: reason };
    if (initiatedBy) body.initiated_by = initiatedBy;
    if (options.trigger_type) body.trigger_type = options.trigger_type;
    if (options.with_migrations) body.with_migrations = true;
    if (options.override) body.override = true;
    const a = await this.#send(operations.executeRollback, {}, undefined, body, {
      timeoutMs: options.timeoutMs ?? this.#rollbackTimeoutMs,
      signal: options.signal,
    });
    if (a.status >= 200 && a.status < 300) {
      return expectObject(a) as unknown as RollbackResult;
    }
    const err = apiError(a);
    const failure: RollbackFailure = { success: false, error: err.message, http_status: err.status, code: err.code as RomanErrorCode };
    if (err.validation) failure.validation = err.validation;
    if (err.eventId) failure.event_id = err.eventId;
    if (err.field) failure.field = err.field;
    return failure;
  }

  /**
   * Asks roman whether a deployment should roll back, with its health
   * (POST /auto-rollback/check).
   */
  checkHealth(deploymentId: string, options: CallOptions = {}): Promise<CheckResult> {
    return this.#call(operations.checkRollback, {}, undefined, { deployment_id: deploymentId }, options);
  }

  /**
   * Lists rollback events, newest first (GET /auto-rollback/history; roman
   * returns 10 unless limit says otherwise).
   */
  async getHistory(limit?: number, filter: Omit<HistoryQuery, "limit"> = {}, options: CallOptions = {}): Promise<RollbackHistory["rollbacks"]> {
    const query: Record<string, string> = {};
    if (limit !== undefined) query.limit = String(limit);
    for (const [k, v] of Object.entries(filter)) {
      if (v) query[k] = v;
    }
    const h = await this.#call<RollbackHistory>(operations.rollbackHistory, {}, query, undefined, options);
    return h.rollbacks;
  }

  /**
   * Records a deployment (POST /deployments): CI calls it when a release
   * starts going out. roman answers the stored row; the same
   * deployment_id sent again with the same fields is an idempotent success.
   */
  recordDeployment(req: RecordDeploymentRequest, options: CallOptions = {}): Promise<Deployment> {
    return this.#call(operations.recordDeployment, {}, undefined, req, options);
  }

  /**
   * Completes a deployment (PATCH /deployments/{id} with status success or
   * failed). success opens roman's watch window.
   */
  completeDeployment(
    deploymentId: string,
    status: "success" | "failed" = "success",
    extra: Omit<UpdateDeploymentRequest, "status"> = {},
    options: CallOptions = {},
  ): Promise<Deployment> {
    return this.#call(operations.updateDeployment, { deployment_id: deploymentId }, undefined, { ...extra, status }, options);
  }

  /** Reads one deployment (GET /deployments/{id}). */
  getDeployment(deploymentId: string, options: CallOptions = {}): Promise<Deployment> {
    return this.#call(operations.getDeployment, { deployment_id: deploymentId }, undefined, undefined, options);
  }

  /**
   * Reports application errors (POST /errors): one event or a batch of up
   * to 10,000, stored all or nothing. roman re-evaluates the deployments at
   * once, so enough errors roll a watched release back.
   */
  reportErrors(events: ErrorEvent | ErrorEvent[], options: CallOptions = {}): Promise<IngestResponse> {
    const body: ErrorEvent | ErrorBatch = Array.isArray(events) ? { events } : events;
    return this.#call(operations.postErrors, {}, undefined, body, options);
  }

  /**
   * Explains a deployment (GET /deployments/{id}/explain): its decision
   * timeline and the verdict, why it did or didn't roll back.
   */
  explain(deploymentId: string, options: CallOptions = {}): Promise<Explanation> {
    return this.#call(operations.explainDeployment, { deployment_id: deploymentId }, undefined, undefined, options);
  }

  /** The URL of an operation with its path parameters and query. */
  url(op: Operation, params: Record<string, string> = {}, query?: Record<string, string>): string {
    let path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = params[name];
      if (v === undefined || v === "") {
        throw new TypeError(`RollbackService: ${name} is required`);
      }
      return encodeURIComponent(v);
    });
    if (op.seed && this.seedPaths) {
      path = SEED_PREFIX + path;
    }
    const qs = query && Object.keys(query).length ? "?" + new URLSearchParams(query).toString() : "";
    return this.baseURL + path + qs;
  }

  async #call<T>(op: Operation, params: Record<string, string>, query: Record<string, string> | undefined, body: unknown, options: CallOptions): Promise<T> {
    const a = await this.#send(op, params, query, body, options);
    if (a.status < 200 || a.status > 299) {
      throw apiError(a);
    }
    return expectObject(a) as T;
  }

  async #send(op: Operation, params: Record<string, string>, query: Record<string, string> | undefined, body: unknown, options: CallOptions): Promise<Answer> {
    const url = this.url(op, params, query);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, timeoutMs);
    const onAbort = () => ctl.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) ctl.abort();
    const headers: Record<string, string> = { Accept: "application/json", Authorization: `Bearer ${this.#key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.#userAgent) headers["User-Agent"] = this.#userAgent;
    const what = `${op.method} ${url.replace(/\?.*$/, "")}`;
    try {
      const resp = await this.#fetch(url, {
        method: op.method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
      });
      const text = await resp.text();
      let parsed: unknown = undefined;
      if (text.trim() !== "") {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      return { status: resp.status, body: parsed, headers: resp.headers };
    } catch (e) {
      if (timedOut) {
        throw new RomanTimeoutError(timeoutMs, `${what}: roman did not answer within ${timeoutMs} ms`);
      }
      if (options.signal?.aborted) {
        throw new RomanNetworkError(`${what}: aborted`, { cause: e, code: "aborted" });
      }
      throw new RomanNetworkError(`${what}: cannot reach roman: ${transportReason(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** The client under its own name; RollbackService is the seed's. */
export { RollbackService as RomanClient };

export default RollbackService;

function expectObject(a: Answer): Record<string, unknown> {
  if (a.body === null || typeof a.body !== "object" || Array.isArray(a.body)) {
    throw new RomanApiError(a.status, "invalid_response", `roman answered ${a.status} without a JSON object`);
  }
  return a.body as Record<string, unknown>;
}

function apiError(a: Answer): RomanApiError {
  const b = (a.body && typeof a.body === "object" ? a.body : {}) as { error?: unknown; event_id?: unknown; validation?: unknown };
  const message = typeof b.error === "string" && b.error !== "" ? b.error : `roman answered HTTP ${a.status}`;
  const retry = Number(a.headers.get("Retry-After"));
  return new RomanApiError(a.status, codeForStatus(a.status), message, {
    field: fieldOf(message),
    eventId: typeof b.event_id === "string" ? b.event_id : undefined,
    validation: b.validation && typeof b.validation === "object" ? (b.validation as Validation) : undefined,
    retryAfter: a.headers.has("Retry-After") && Number.isFinite(retry) ? retry : undefined,
  });
}

/** The reason of a fetch failure: undici puts the socket error in cause. */
function transportReason(e: unknown): string {
  let reason = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error ? (e as { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    reason += `: ${typeof code === "string" ? code + " " : ""}${cause.message}`;
  }
  return reason;
}
