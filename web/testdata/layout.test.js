// Tests of the dashboard chart's label layout (layoutLabels in
// ../static/dashboard.js), run by `node --test` (TestChartLabelLayout in
// web_test.go runs it when node is installed).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { layoutLabels } = require("../static/dashboard.js");

const measure = text => Array.from(text).length * 6; // 6 units a character
const opts = { left: 34, right: 590, rows: 3, gap: 4, pad: 3, measure };

function assertNoOverlap(out, gap) {
  for (let i = 0; i < out.length; i++) {
    for (let j = i + 1; j < out.length; j++) {
      const a = out[i], b = out[j];
      if (!a.text || !b.text || a.row !== b.row) continue;
      assert.ok(a.right + gap <= b.left || b.right + gap <= a.left,
        `"${a.text}" [${a.left}, ${a.right}] and "${b.text}" [${b.left}, ${b.right}] overlap in row ${a.row}`);
    }
  }
}

test("labels far apart stay whole, in the first row, right of their lines", () => {
  const out = layoutLabels([{ x: 100, text: "v2.5.3 live" }, { x: 300, text: "rollback success" }], opts);
  assert.deepEqual(out.map(o => [o.row, o.anchor, o.text, o.x]), [[0, "start", "v2.5.3 live", 103], [0, "start", "rollback success", 303]]);
});

test("close labels stack over rows and never overlap", () => {
  const items = [
    { x: 100, text: "v2.5.3 live" }, { x: 102, text: "rollback automatic" },
    { x: 103, text: "rollback success" }, { x: 104, text: "v2.5.2 live" },
  ];
  const out = layoutLabels(items, opts);
  assertNoOverlap(out, opts.gap);
  assert.deepEqual(out.map(o => o.text), items.map(i => i.text), "four labels fit whole in three rows on both sides");
  assert.deepEqual(out.map(o => o.row), [0, 1, 2, 1]);
  assert.equal(out[3].anchor, "end");
});

test("a label near the right edge sits left of its line", () => {
  const [o] = layoutLabels([{ x: 588, text: "watch window ends" }], opts);
  assert.equal(o.anchor, "end");
  assert.equal(o.right, 585);
  assert.ok(o.left >= opts.left);
});

test("a label with no room for its whole text is shortened to what fits", () => {
  const one = Object.assign({}, opts, { rows: 1 });
  const out = layoutLabels([{ x: 400, text: "v2.5.3 live" }, { x: 560, text: "watch window ends now" }], one);
  assertNoOverlap(out, one.gap);
  assert.equal(out[0].text, "v2.5.3 live");
  // Left of its line (the right edge is near), after the first label and
  // its gap: 557 - (403 + 66 + 4) = 84 units, at most 14 characters with
  // the "…" ("watch window e…" is 15; the space before "…" is dropped).
  assert.deepEqual([out[1].anchor, out[1].text, out[1].full], ["end", "watch window…", "watch window ends now"]);
  assert.ok(out[1].left >= out[0].right + one.gap);
});

test("a crowd of labels: shortened or left out, never overlapping, inside the chart", () => {
  const items = [];
  for (let i = 0; i < 12; i++) items.push({ x: 200 + i * 4, text: "rollback step number " + i });
  items.push({ x: 585, text: "watch window ends" }, { x: 575, text: "rollback finished" }, { x: 580, text: "v2.5.2 live" });
  const out = layoutLabels(items, opts);
  assertNoOverlap(out, opts.gap);
  assert.ok(out.some(o => o.text === ""), "some label is left out");
  for (const o of out) {
    assert.ok(o.text === "" || o.full.startsWith(o.text.replace(/…$/, "")), `"${o.text}" is a prefix of "${o.full}"`);
    if (o.text) assert.ok(o.left >= opts.left && o.right <= opts.right, `"${o.text}" stays inside the chart`);
  }
  assert.deepEqual(out.map(o => o.full), items.map(i => i.text), "in the input's order");
});

test("the layout is deterministic", () => {
  const items = [{ x: 50, text: "a" }, { x: 50, text: "b" }, { x: 50, text: "c" }, { x: 50, text: "d" }];
  assert.deepEqual(layoutLabels(items, opts), layoutLabels(items, opts));
});
