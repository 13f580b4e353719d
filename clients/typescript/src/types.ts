// The JSON shapes of roman's API that this client sends and receives. Each
// interface tagged `@schema Name` mirrors the OpenAPI schema of that name in
// api/openapi.json field for field; test/openapi.test.js fails when the two
// drift apart (a field missing on either side, or a required field that is
// optional here, or the reverse).

/** A deployment's status (pending → in_progress → success | failed; rolled_back). */
export type DeploymentStatus = "pending" | "in_progress" | "success" | "failed" | "rolled_back";

/** A rollback event's status. */
export type RollbackStatus = "pending" | "in_progress" | "success" | "failed" | "aborted";

/** Why a rollback was asked for. */
export type TriggerType = "manual" | "automatic" | "constitutional_violation";

/** A JSON object roman stores as given (metadata, details). */
export type JSONObject = { [key: string]: unknown };

/**
 * One row of ops.deployments.
 * @schema Deployment
 */
export interface Deployment {
  id: number;
  deployment_id: string;
  service: string;
  environment: string;
  version: string;
  git_commit: string;
  git_branch: string;
  deployed_by?: string | null;
  deployed_at: string;
  status: DeploymentStatus;
  rollback_from?: string | null;
  health_check_passed: boolean;
  health_check_details?: JSONObject | null;
  constitutional_validation?: JSONObject | null;
  metadata?: JSONObject | null;
  completed_at?: string | null;
  rolled_back_at?: string | null;
}

/**
 * The body of POST /deployments (CI records a release). Absent status is
 * in_progress, absent deployed_at is now, absent deployment_id is generated.
 * @schema RecordDeploymentRequest
 */
export interface RecordDeploymentRequest {
  service?: string;
  environment: string;
  version: string;
  git_commit: string;
  git_branch: string;
  /** A UUID (the seed's auth.users id), not a user name. */
  deployed_by?: string;
  deployment_id?: string;
  status?: DeploymentStatus;
  metadata?: JSONObject | null;
  deployed_at?: string;
  health_check_passed?: boolean;
}

/**
 * The body of PATCH /deployments/{deployment_id}: a status change and/or
 * the health check verdict.
 * @schema UpdateDeploymentRequest
 */
export interface UpdateDeploymentRequest {
  status?: "pending" | "in_progress" | "success" | "failed";
  health_check_passed?: boolean;
  health_check_details?: JSONObject | null;
}

/**
 * The body of POST /auto-rollback (the seed's, plus with_migrations and
 * override).
 * @schema RollbackRequest
 */
export interface RollbackRequest {
  deployment_id: string;
  trigger_reason: string;
  initiated_by?: string | null;
  trigger_type?: TriggerType;
  with_migrations?: boolean;
  override?: boolean;
}

/**
 * One rule's finding in a constitutional validation.
 * @schema RuleResult
 */
export interface RuleResult {
  rule: string;
  law?: string;
  severity: "violation" | "warning";
  message: string;
  overridden?: boolean;
  error?: string;
}

/**
 * A constitutional validation: `{compliant, violations, warnings}` as in
 * the seed, plus the rules evaluated.
 * @schema Validation
 */
export interface Validation {
  compliant: boolean;
  violations: string[];
  warnings: string[];
  rules?: string[];
  override?: boolean;
  results?: RuleResult[];
}

/**
 * The release a rollback goes back to.
 * @schema TargetDeployment
 */
export interface TargetDeployment {
  deployment_id: string;
  version: string;
  git_commit: string;
  deployed_at: string;
  health_check_passed: boolean;
}

/**
 * The seed's success response of POST /auto-rollback (HTTP 200). success
 * is false, with error, when the rollback ran but failed.
 * @schema RollbackResult
 */
export interface RollbackResult {
  success: boolean;
  event_id: string;
  status: RollbackStatus;
  target_deployment: TargetDeployment | null;
  new_deployment_id?: string;
  snapshot_id: string;
  validation: Validation;
  duration_ms: number;
  error?: string;
}

/**
 * Every error answer of roman.
 * @schema Error
 */
export interface ErrorBody {
  success: false;
  error: string;
  event_id?: string;
}

/**
 * The seed's constitutional rejection body (HTTP 422).
 * @schema Rejection
 */
export interface Rejection {
  success: false;
  error: string;
  validation: Validation;
  event_id?: string;
}

/**
 * What executeRollback resolves to when roman did not run the rollback: a
 * constitutional rejection (422, with validation), a race with another
 * rollback (409, with the event_id of the rollback that won), or any other
 * error answer. success is false and error says why, as the seed's snippet
 * expects; the rest tells a program what happened.
 */
export interface RollbackFailure {
  success: false;
  /** roman's message, e.g. "Constitutional validation failed". */
  error: string;
  /** Present on a constitutional rejection. */
  validation?: Validation;
  /** The rollback event the answer is about (the rejected one, or the one that won a race). */
  event_id?: string;
  /** The HTTP status of roman's answer. */
  http_status: number;
  /** roman's error code for that status (rejected, conflict, invalid, ...). */
  code: RomanErrorCode;
  /** The request field the error names, when it names one. */
  field?: string;
}

/** What executeRollback resolves to: roman's result, or why it did not run. */
export type RollbackOutcome = RollbackResult | RollbackFailure;

/**
 * A deployment's health as roman computed it. A signal no source gives is null.
 * @schema Health
 */
export interface Health {
  healthy: boolean;
  status: "healthy" | "degraded" | "unhealthy";
  error_rate_per_minute: number;
  recent_errors: number;
  database_connections: number | null;
  database_connection_utilization: number | null;
  active_queries: number | null;
  p95_response_time_ms: number | null;
  memory_usage_percent: number | null;
  reason?: string;
  warnings: string[];
  unknown?: { [signal: string]: string };
  /** The release's events of fingerprints no earlier release had. */
  new_errors?: NewErrorCounts;
  /** Firing alerts of other tools (Alertmanager) attributed to the deployment. */
  alerts?: FiringAlert[];
  timestamp: string;
}

/**
 * A release's events of fingerprints that no earlier release of its service
 * and environment had, and how many fingerprints they are.
 * @schema NewErrorCounts
 */
export interface NewErrorCounts {
  events: number;
  fingerprints: number;
}

/**
 * A firing alert of another tool as the health object shows it.
 * @schema FiringAlert
 */
export interface FiringAlert {
  alertname: string;
  /** The alert's summary annotation. */
  summary?: string;
  fingerprint: string;
  starts_at: string;
  /** How the alert was tied to the release. */
  attribution_rule: "deployment_id" | "version" | "current";
  /** The alert's name is in alert_triggers, or it is labelled roman_trigger="true". */
  trigger: boolean;
  /** The alert started before the release was deployed: it never rolls it back. */
  pre_existing?: boolean;
}

/**
 * A judge's verdict about a release with its evidence (docs/judge.md).
 * @schema Judgement
 */
export interface Judgement {
  judge: "threshold" | "baseline";
  /** Recorded in shadow mode, without acting. */
  shadow?: boolean;
  verdict: "pass" | "fail" | "inconclusive";
  /** What decided: error_rate_regression, requests, a health signal. */
  signal: string;
  /** The trigger's reason when the verdict is fail. */
  reason?: string;
  /** One line explaining the verdict. */
  why: string;
  note?: string;
  /** The baseline judge applied the threshold triggers: no earlier release to compare with. */
  fallback?: boolean;
  at?: string;
  window_start?: string;
  window_end?: string;
  minutes?: number;
  errors?: number;
  requests?: number | null;
  unit?: "minute" | "request";
  rate?: number;
  /** The replaced release over the baseline window. */
  baseline?: { [key: string]: unknown } | null;
  ratio?: number | null;
  /** The natural logarithm of e_value. */
  statistic?: number;
  e_value?: number;
  /**
   * The anytime-valid p-value min(1, 1/e_value); at most false_positive_rate
   * when the bounded-horizon boundary failed the release.
   */
  p_value?: number;
  /**
   * The bounded-horizon boundary's critical count at the release's exposure
   * (as many errors fail); 0 when it does not apply.
   */
  critical_errors?: number;
  limits?: { [key: string]: unknown };
}

/**
 * The body of POST /auto-rollback/check.
 * @schema CheckRequest
 */
export interface CheckRequest {
  deployment_id: string;
}

/**
 * The answer of /auto-rollback/check: should the deployment roll back, and
 * why not if a trigger fired but roman did not.
 * @schema CheckResult
 */
export interface CheckResult {
  deployment_id: string;
  should_rollback: boolean;
  reason: string;
  health: Health;
  suppressed: boolean;
  suppressed_by?: "rollback_deployment" | "cooldown" | "max_auto_rollbacks" | "conflict" | "rejected" | "failed";
  suppressed_reason?: string;
  suppressed_until?: string;
  command?: string;
  /** The judge's newest acting verdict with its evidence, when one was recorded. */
  judgement?: Judgement;
}

/**
 * One step of a rollback.
 * @schema RollbackStep
 */
export interface RollbackStep {
  name: string;
  status: string;
  started_at: string;
  finished_at: string;
  detail?: JSONObject;
}

/**
 * One row of ops.rollback_events.
 * @schema RollbackEvent
 */
export interface RollbackEvent {
  id: number;
  event_id: string;
  deployment_id: string;
  service: string;
  environment: string;
  trigger_type: TriggerType;
  trigger_reason: string;
  initiated_by?: string | null;
  initiated_at: string;
  status: RollbackStatus;
  rollback_plan?: JSONObject | null;
  rollback_steps?: RollbackStep[] | null;
  constitutional_validation?: JSONObject | null;
  completed_at?: string | null;
  metadata?: JSONObject | null;
}

/**
 * The query of GET /auto-rollback/history: how many events (roman's default
 * 10) and filters.
 * @query rollbackHistory
 */
export interface HistoryQuery {
  limit?: number;
  service?: string;
  environment?: string;
  deployment_id?: string;
  status?: RollbackStatus;
  /** RFC 3339: only events initiated at or after this time. */
  since?: string;
}

/**
 * The answer of GET /auto-rollback/history.
 * @schema RollbackHistory
 */
export interface RollbackHistory {
  rollbacks: RollbackEvent[];
}

/**
 * One application error reported to roman (POST /errors). Without
 * deployment_id it counts for the current deployment of its service in its
 * environment.
 * @schema ErrorEvent
 */
export interface ErrorEvent {
  deployment_id?: string;
  service?: string;
  environment?: string;
  occurred_at?: string;
  message: string;
  severity?: string;
  fingerprint?: string;
  /** The error's type or class; feeds roman's own fingerprint. Not stored. */
  error_type?: string;
  /** The stack trace; its top 3 frames feed roman's own fingerprint. Not stored. */
  stack?: string;
}

/**
 * A batch of error events, stored all or nothing (POST /errors).
 * @schema ErrorsRequest/oneOf/1
 */
export interface ErrorBatch {
  events: ErrorEvent[];
}

/**
 * The answer of POST /errors.
 * @schema IngestResponse
 */
export interface IngestResponse {
  success: boolean;
  accepted: number;
  deployment_ids: string[];
}

/**
 * The final verdict of roman explain.
 * @schema ExplainVerdict
 */
export interface ExplainVerdict {
  status: string;
  health_check_passed: boolean;
  rolled_back: boolean;
  why: string;
  /** The judge of the newest acting verdict (threshold or baseline). */
  judge?: string;
  /** That verdict: pass, fail or inconclusive. */
  judge_verdict?: string;
  /** That verdict's why line. */
  judge_why?: string;
}

/**
 * One entry of a deployment's decision timeline.
 * @schema ExplainEntry
 */
export interface ExplainEntry {
  at: string;
  kind: string;
  severity: "info" | "warning" | "error" | "critical";
  summary: string;
  details: JSONObject | null;
}

/**
 * GET /deployments/{deployment_id}/explain: why a release did or didn't
 * roll back.
 * @schema Explanation
 */
export interface Explanation {
  deployment: Deployment;
  verdict: ExplainVerdict;
  timeline: ExplainEntry[];
}

/**
 * roman's error codes, one per HTTP status (see RomanApiError), plus
 * invalid_response for an answer that is not roman's JSON.
 */
export type RomanErrorCode =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "timeout"
  | "rejected"
  | "unavailable"
  | "internal"
  | "invalid_response";
