// The TypeScript client checked against roman's OpenAPI document
// (api/openapi.json). An operation whose "x-clients" list names
// "typescript" must be in the client's route table with the same method and
// path, and be called by a method; the table must hold nothing else. Every
// request and response schema of those operations must have a TypeScript
// interface (tagged `@schema Name` in src/types.ts) with exactly its fields,
// the same ones required, null where the schema is nullable, and nested
// schemas referring to their interfaces. Nothing here starts roman.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

import { operations, SEED_PREFIX } from "../dist/index.js";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const specPath = process.env.ROMAN_OPENAPI ?? join(pkg, "../../api/openapi.json");
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const METHODS = ["get", "post", "put", "patch", "delete"];

/** Every operation of the document: {id, method, path, op}. */
function allOperations(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (item[m]) out.push({ id: item[m].operationId, method: m.toUpperCase(), path, op: item[m] });
    }
  }
  return out;
}

function markedTypeScript(o) {
  const c = o.op["x-clients"];
  return Array.isArray(c) && c.includes("typescript");
}

/** Problems between the document's operations and the client's route table. */
export function routeProblems(doc, table) {
  const problems = [];
  const ops = allOperations(doc);
  const byRoute = new Map(ops.map((o) => [`${o.method} ${o.path}`, o]));
  const expected = new Set();
  for (const [key, e] of Object.entries(table)) {
    const routes = [e.path];
    if (e.seed) routes.push(SEED_PREFIX + e.path);
    for (const path of routes) {
      const route = `${e.method} ${path}`;
      expected.add(route);
      const o = byRoute.get(route);
      if (!o) {
        problems.push(`the TypeScript client calls ${route} (${key}), which openapi.json does not have`);
      } else if (!markedTypeScript(o)) {
        problems.push(`the TypeScript client calls ${route} (${key}), but openapi.json's ${o.id} does not list "typescript" in x-clients`);
      } else if (path === e.path && o.id !== e.id) {
        problems.push(`${route}: the client names it ${e.id}, openapi.json ${o.id}`);
      }
    }
  }
  for (const o of ops) {
    if (markedTypeScript(o) && !expected.has(`${o.method} ${o.path}`)) {
      problems.push(`openapi.json's ${o.id} (${o.method} ${o.path}) lists "typescript" in x-clients, but the TypeScript client has no method for it`);
    }
  }
  return problems;
}

function deref(doc, node) {
  while (node && node.$ref) {
    const parts = node.$ref.replace(/^#\//, "").split("/");
    node = parts.reduce((n, p) => n?.[p], doc);
  }
  return node;
}

function refName(node) {
  return node?.$ref?.startsWith("#/components/schemas/") ? node.$ref.slice("#/components/schemas/".length) : undefined;
}

/** The named schema a property refers to (directly, through allOf, or as array items). */
function propRef(prop) {
  return refName(prop) ?? refName(prop?.allOf?.[0]) ?? refName(prop?.items) ?? refName(prop?.items?.allOf?.[0]);
}

/**
 * The object schemas the marked operations send or receive, by name: named
 * component schemas, and inline objects as "<Name>/<path below it>".
 */
export function reachableSchemas(doc) {
  const found = new Map();
  const visit = (node, name) => {
    const ref = refName(node);
    if (ref) {
      if (found.has(ref)) return;
      found.set(ref, null);
      visit(doc.components.schemas[ref], ref);
      return;
    }
    node = deref(doc, node);
    if (!node || typeof node !== "object") return;
    if (node.properties) {
      found.set(name, node);
      for (const [k, p] of Object.entries(node.properties)) visit(p, `${name}/properties/${k}`);
    }
    if (node.items) visit(node.items, `${name}/items`);
    for (const kw of ["allOf", "oneOf", "anyOf"]) {
      (node[kw] ?? []).forEach((s, i) => visit(s, `${name}/${kw}/${i}`));
    }
  };
  for (const o of allOperations(doc).filter(markedTypeScript)) {
    const body = deref(doc, o.op.requestBody);
    for (const media of Object.values(body?.content ?? {})) visit(media.schema, `${o.id}/requestBody`);
    for (const [status, r] of Object.entries(o.op.responses ?? {})) {
      for (const media of Object.values(deref(doc, r)?.content ?? {})) visit(media.schema, `${o.id}/${status}`);
    }
  }
  for (const [k, v] of found) if (v === null) found.set(k, doc.components.schemas[k]);
  return new Map([...found].filter(([, s]) => s && s.properties));
}

/** The interfaces of a TypeScript file tagged `@<tagName> Name` (schema, or query). */
export function taggedInterfaces(file, tagName = "schema") {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out = new Map();
  const visit = (node) => {
    if (ts.isInterfaceDeclaration(node)) {
      for (const tag of ts.getJSDocTags(node)) {
        if (tag.tagName.text === tagName) {
          const schema = String(ts.getTextOfJSDocComment(tag.comment) ?? "").trim();
          const props = new Map();
          for (const m of node.members) {
            if (ts.isPropertySignature(m)) {
              props.set(m.name.getText(sf), { optional: !!m.questionToken, type: m.type ? m.type.getText(sf) : "" });
            }
          }
          out.set(schema, { name: node.name.text, props });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Problems between the reachable schemas and the tagged interfaces. */
export function fieldProblems(schemas, ifaces) {
  const problems = [];
  for (const [name, s] of schemas) {
    const i = ifaces.get(name);
    if (!i) {
      problems.push(`schema ${name} has no TypeScript interface tagged @schema ${name}`);
      continue;
    }
    const required = new Set(s.required ?? []);
    for (const [field, p] of Object.entries(s.properties)) {
      const tp = i.props.get(field);
      if (!tp) {
        problems.push(`${name}.${field} is in openapi.json but not in the TypeScript interface ${i.name}`);
        continue;
      }
      if (required.has(field) && tp.optional) problems.push(`${name}.${field} is required in openapi.json but optional in ${i.name}`);
      if (!required.has(field) && !tp.optional) problems.push(`${name}.${field} is optional in openapi.json but required in ${i.name}`);
      const nullable = p.nullable === true;
      const hasNull = /\bnull\b/.test(tp.type);
      if (nullable !== hasNull) problems.push(`${name}.${field} is ${nullable ? "" : "not "}nullable in openapi.json but ${i.name}.${field} is ${tp.type}`);
      const ref = propRef(p);
      if (ref && schemas.has(ref)) {
        const target = ifaces.get(ref);
        if (target && !new RegExp(`\\b${target.name}\\b`).test(tp.type)) {
          problems.push(`${name}.${field} is a ${ref} in openapi.json but ${i.name}.${field} is ${tp.type}`);
        }
      }
    }
    for (const field of i.props.keys()) {
      if (!(field in s.properties)) problems.push(`${i.name}.${field} is not a field of ${name} in openapi.json`);
    }
  }
  for (const [name, i] of ifaces) {
    if (!schemas.has(name)) problems.push(`${i.name} is tagged @schema ${name}, which no operation of the TypeScript client sends or receives`);
  }
  return problems;
}

/**
 * Problems between the query parameters of the marked operations and the
 * interfaces tagged `@query <operationId>` (a seed twin, "...Seed", shares its
 * operation's interface).
 */
export function queryProblems(doc, queries) {
  const problems = [];
  const seen = new Set();
  for (const o of allOperations(doc).filter(markedTypeScript)) {
    const params = [...(doc.paths[o.path].parameters ?? []), ...(o.op.parameters ?? [])].map((p) => deref(doc, p)).filter((p) => p.in === "query");
    if (params.length === 0) continue;
    const key = o.id.replace(/Seed$/, "");
    seen.add(key);
    const q = queries.get(key);
    if (!q) {
      problems.push(`${o.id} takes query parameters but no TypeScript interface is tagged @query ${key}`);
      continue;
    }
    for (const p of params) {
      const tp = q.props.get(p.name);
      if (!tp) problems.push(`query parameter ${p.name} of ${o.id} is missing from ${q.name}`);
      else if (!!p.required === tp.optional) problems.push(`query parameter ${p.name} of ${o.id} is ${p.required ? "required" : "optional"} in openapi.json but not in ${q.name}`);
    }
    for (const name of q.props.keys()) {
      if (!params.some((p) => p.name === name)) problems.push(`${q.name}.${name} is not a query parameter of ${o.id} in openapi.json`);
    }
  }
  for (const [key, q] of queries) {
    if (!seen.has(key)) problems.push(`${q.name} is tagged @query ${key}, which is no query of the TypeScript client's operations`);
  }
  return problems;
}

/** The route-table keys that the RollbackService methods use (operations.X). */
function usedOperations(file) {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const used = new Set();
  let fetches = 0;
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "operations") {
      used.add(node.name.text);
    }
    if (ts.isCallExpression(node) && /(^|\.)#?fetch$/.test(node.expression.getText(sf))) fetches++;
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { used, fetches };
}

test("the client's routes and openapi.json's x-clients agree", () => {
  assert.deepEqual(routeProblems(spec, operations), []);
  const marked = allOperations(spec).filter(markedTypeScript);
  assert.ok(marked.length >= Object.keys(operations).length, "openapi.json marks the client's operations");
});

test("every route in the table is called by a method, and only through the table", () => {
  const { used, fetches } = usedOperations(join(pkg, "src/index.ts"));
  assert.deepEqual([...used].sort(), Object.keys(operations).sort());
  assert.equal(fetches, 1, "one place sends requests (#send)");
});

test("the TypeScript types have exactly the fields of the schemas the client uses", () => {
  const schemas = reachableSchemas(spec);
  for (const n of ["RollbackResult", "Rejection", "Error", "Deployment", "RecordDeploymentRequest", "ErrorEvent", "Explanation", "CheckResult", "Health"]) {
    assert.ok(schemas.has(n), `${n} is reachable from the client's operations`);
  }
  assert.deepEqual(fieldProblems(schemas, taggedInterfaces(join(pkg, "src/types.ts"))), []);
});

test("the query interfaces have exactly the query parameters of their operations", () => {
  const queries = taggedInterfaces(join(pkg, "src/types.ts"), "query");
  assert.ok(queries.has("rollbackHistory"));
  assert.deepEqual(queryProblems(spec, queries), []);
});

// The checks must fail when the two drift apart.
test("the cross-check catches drift in either direction", () => {
  const clone = () => JSON.parse(JSON.stringify(spec));
  const ifaces = taggedInterfaces(join(pkg, "src/types.ts"));

  let doc = clone();
  doc.paths["/deployments/{deployment_id}/snapshots"].post["x-clients"] = ["go", "typescript"];
  assert.match(routeProblems(doc, operations).join("\n"), /createSnapshot .* has no method/);

  doc = clone();
  delete doc.paths["/deployments/{deployment_id}/explain"];
  assert.match(routeProblems(doc, operations).join("\n"), /calls GET \/deployments\/\{deployment_id\}\/explain \(explainDeployment\), which openapi.json does not have/);

  doc = clone();
  delete doc.paths["/functions/v1/auto-rollback"].post["x-clients"];
  assert.match(routeProblems(doc, operations).join("\n"), /POST \/functions\/v1\/auto-rollback .* does not list "typescript"/);

  assert.match(routeProblems(spec, { ...operations, extra: { id: "x", method: "GET", path: "/nope" } }).join("\n"), /calls GET \/nope/);

  doc = clone();
  doc.components.schemas.RollbackResult.properties.rolled_back_by = { type: "string" };
  assert.match(fieldProblems(reachableSchemas(doc), ifaces).join("\n"), /RollbackResult.rolled_back_by is in openapi.json but not in the TypeScript interface RollbackResult/);

  doc = clone();
  delete doc.components.schemas.Deployment.properties.rolled_back_at;
  assert.match(fieldProblems(reachableSchemas(doc), ifaces).join("\n"), /Deployment.rolled_back_at is not a field of Deployment/);

  doc = clone();
  doc.components.schemas.ErrorEvent.required.push("environment");
  assert.match(fieldProblems(reachableSchemas(doc), ifaces).join("\n"), /ErrorEvent.environment is required in openapi.json but optional/);

  doc = clone();
  delete doc.components.schemas.Health.properties.active_queries.nullable;
  assert.match(fieldProblems(reachableSchemas(doc), ifaces).join("\n"), /Health.active_queries is not nullable/);

  const queries = taggedInterfaces(join(pkg, "src/types.ts"), "query");
  doc = clone();
  doc.paths["/auto-rollback/history"].get.parameters.push({ name: "trigger_type", in: "query", schema: { type: "string" } });
  assert.match(queryProblems(doc, queries).join("\n"), /query parameter trigger_type of rollbackHistory is missing from HistoryQuery/);
  doc = clone();
  doc.paths["/functions/v1/auto-rollback/history"].get.parameters = doc.paths["/functions/v1/auto-rollback/history"].get.parameters.filter((p) => p.name !== "since");
  assert.match(queryProblems(doc, queries).join("\n"), /HistoryQuery.since is not a query parameter of rollbackHistorySeed/);

  doc = clone();
  doc.components.schemas.ErrorsRequest.oneOf[1].properties.dedupe = { type: "boolean" };
  assert.match(fieldProblems(reachableSchemas(doc), ifaces).join("\n"), /ErrorsRequest\/oneOf\/1.dedupe/);
});
