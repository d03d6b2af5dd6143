// Every example flow and the `npm start` demo flow in the real editor: no two nodes are drawn on
// top of each other, and no node carries the "not properly configured" triangle.
//
// Each flow is drawn twice, because the editor places wide nodes differently:
// - imported, as Import > Examples does: every node starts 100 px wide and grows to the RIGHT
//   (its left edge stays at x - 50);
// - loaded as a deployed flow, as `npm start` and every reload show it: centred on x.
// Screenshots go to test-artifacts/screenshots/layout-*.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';
import { assertNoPageErrors, launchEditor, type LaunchedBrowser } from '../support/browser';
import { demoFlow } from '../../scripts/demo-flow';

/** A node of a flow file, as the editor imports it. */
interface FlowNode {
  id: string;
  type: string;
  name?: string;
  x?: number;
  y?: number;
  z?: string;
  [property: string]: unknown;
}

/** A flow to draw: an example, or the demo flow with the tab it comes with. */
interface Flow {
  name: string;
  nodes: FlowNode[];
  tab?: FlowNode;
}

/** What the test reads of a node in the editor page (RED.nodes). */
interface EditorNode {
  id: string;
  type: string;
  name?: string;
  valid: boolean;
  validationErrors?: string[];
  _def: { defaults?: Record<string, { type?: string }> };
  [property: string]: unknown;
}

/** A drawn node: its label, its place in the file and its box on the page (page pixels). */
interface Box {
  id: string;
  label: string;
  x?: number;
  y?: number;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const ROOT = path.join(__dirname, '..', '..');
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const examplesDir = path.join(ROOT, 'examples');
const FLOWS: Flow[] = fs
  .readdirSync(examplesDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f): Flow => ({
    name: f.replace(/\.json$/, ''),
    nodes: JSON.parse(fs.readFileSync(path.join(examplesDir, f), 'utf8')) as FlowNode[],
  }))
  // The demo flow comes with its own tab, which an import into a new flow leaves out.
  .concat([
    {
      name: 'npm start demo flow',
      nodes: demoFlow()
        .filter((n) => n.type !== 'tab')
        .map(({ z, ...n }) => n),
      tab: demoFlow().find((n) => n.type === 'tab'),
    },
  ]);

/** The flow with every id prefixed (each flow is drawn twice in one editor), references included. */
function withPrefix(nodes: FlowNode[], prefix: string): FlowNode[] {
  let text = JSON.stringify(nodes);
  for (const n of nodes) text = text.split(`"${n.id}"`).join(`"${prefix}${n.id}"`);
  return JSON.parse(text) as FlowNode[];
}

/** Pairs of drawn nodes that share any area ({label, x, y, left, top, right, bottom}, page pixels). */
function overlaps(boxes: Box[]): string[] {
  const found: string[] = [];
  const describe = (n: Box) => `"${n.label}" (x ${n.x}, y ${n.y} in the file; drawn from ${Math.round(n.left)} to ${Math.round(n.right)})`;
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) found.push(`${describe(a)} and ${describe(b)}`);
    }
  }
  return found;
}

describe('example flows and the demo flow in the editor (Chromium)', function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let browser: LaunchedBrowser;
  let page: Page;
  const pageErrors: Error[] = [];

  before(async function () {
    this.timeout(240000);
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors);
    page = browser.page;
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  /**
   * Draws `nodes` on a new tab, the way `how` says ('import' or 'load'), and returns what the user
   * sees of each node (body, label, ports, button, badges) and the nodes that are not valid.
   */
  async function draw(
    nodes: FlowNode[],
    how: 'import' | 'load',
    prefix: string,
    tab: Omit<FlowNode, 'id'> = { type: 'tab', label: prefix },
  ): Promise<{ boxes: Box[]; invalid: string[] }> {
    const inFile = new Map(nodes.map((n) => [prefix + n.id, n]));
    const result = await page.evaluate(
      ({ nodes, how, tab }) => {
        let z: string;
        if (how === 'import') {
          // Import > Examples > (the example) > Import to "new flow"; touchImport drops the nodes
          // at once instead of attaching them to the mouse pointer.
          RED.view.importNodes(nodes, { addFlow: true, touchImport: true, generateIds: false, notify: false });
          z = RED.workspaces.active();
        } else {
          // What the editor does with the deployed flows it loads.
          RED.nodes.import([tab, ...nodes.map((n) => (n.x === undefined ? n : { ...n, z: tab.id }))]);
          RED.workspaces.show(tab.id);
          z = tab.id;
        }
        RED.view.select('');
        const onTab: EditorNode[] = RED.nodes.filterNodes({ z });
        const configs = [
          ...new Set(
            onTab.flatMap((n) =>
              Object.keys(n._def.defaults || {})
                .filter((p) => n._def.defaults![p].type && RED.nodes.node(n[p]))
                .map((p): EditorNode => RED.nodes.node(n[p])),
            ),
          ),
        ];
        return {
          ids: onTab.map((n) => n.id),
          invalid: [...onTab, ...configs].filter((n) => !n.valid).map((n) => `${n.type} "${n.name || ''}": ${n.validationErrors}`),
        };
      },
      { nodes: withPrefix(nodes, prefix), how, tab: { ...tab, id: prefix + 'tab' } },
    );
    assert.deepEqual(
      result.ids.sort(),
      nodes
        .filter((n) => n.x !== undefined)
        .map((n) => prefix + n.id)
        .sort(),
      'every node is on the new tab',
    );

    // The view draws on the next animation frame: wait until the nodes of this flow, and only
    // they, are drawn.
    await page.waitForFunction(
      (ids) =>
        ids.every((id) => document.getElementById(id)) &&
        document.querySelectorAll('#red-ui-workspace-chart g.red-ui-flow-node-group').length === ids.length,
      result.ids,
    );
    const boxes = await page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group').evaluateAll((groups) =>
      groups.map((g) => {
        const r = g.getBoundingClientRect();
        // __data__: the node d3 drew the group from.
        const drawn = (g as SVGGElement & { __data__: { type: string } }).__data__;
        return {
          id: g.id,
          label: g.querySelector('.red-ui-flow-node-label')?.textContent || drawn.type,
          left: r.left,
          top: r.top,
          right: r.right,
          bottom: r.bottom,
        };
      }),
    );
    return { boxes: boxes.map((b) => ({ ...b, x: inFile.get(b.id)!.x, y: inFile.get(b.id)!.y })), invalid: result.invalid };
  }

  it('covers the eleven examples and the demo flow, each send node with a short name', function () {
    assert.equal(FLOWS.length, 12);
    // A named node shows its name: the layout then never depends on a subject or on a default label.
    for (const flow of FLOWS) {
      for (const n of flow.nodes.filter((n) => n.type === 'send-smtp-email'))
        assert.ok(n.name && n.name.length <= 20, `${flow.name}: send node ${n.id} is named "${n.name}"`);
    }
  });

  FLOWS.forEach((flow, i) => {
    it(`${flow.name}: no two nodes overlap, every node is properly configured`, async function () {
      const file = flow.name.replace(/\W+/g, '-');
      fs.mkdirSync(SHOTS, { recursive: true });
      const problems: Record<string, string[]> = {};
      for (const how of ['import', 'load'] as const) {
        const { boxes, invalid } = await draw(flow.nodes, how, `${how}${i}-`, flow.tab);
        await page.locator('#red-ui-workspace-chart').screenshot({ path: path.join(SHOTS, `layout-${how}-${file}.png`) });
        const found = { 'drawn on top of each other': overlaps(boxes), 'with a warning triangle': invalid };
        for (const [what, list] of Object.entries(found)) if (list.length) problems[`${how}: nodes ${what}`] = list;
      }
      assert.deepEqual(problems, {}, `"${flow.name}" in the editor`);
    });
  });

  it('imports every example into one workspace side by side: no conflict prompt, each connection once and named apart', async function () {
    const examples = FLOWS.filter((f) => !f.tab);
    const imported = await page.evaluate((flows) => {
      const conflicts: string[] = [];
      for (const f of flows) {
        try {
          // Import > Examples > (the example) > Import, to a new flow, ids as in the file.
          RED.view.importNodes(f.nodes, { addFlow: true, touchImport: true, generateIds: false, notify: false });
        } catch (err) {
          // The clipboard turns this into "Some of the nodes you are importing already exist".
          conflicts.push(`${f.name}: ${(err as { code?: string }).code}`);
        }
      }
      const ids = flows.flatMap((f) => f.nodes.map((n) => n.id));
      const connections: string[] = [];
      RED.nodes.eachConfig((n: { id: string; type: string; name?: string }) => {
        if (ids.includes(n.id) && n.type === 'smtp-oauth-config') connections.push(n.name || n.id);
      });
      return { conflicts, missing: ids.filter((id) => !RED.nodes.node(id)), connections };
    }, examples);
    assert.deepEqual(imported.conflicts, [], 'no example conflicts with another');
    assert.deepEqual(imported.missing, [], 'every node of every example is in the workspace');
    const perExample = examples.map((f) => f.nodes.filter((n) => n.type === 'smtp-oauth-config').length);
    assert.equal(
      imported.connections.length,
      perExample.reduce((a, b) => a + b, 0),
    );
    assert.equal(new Set(imported.connections).size, imported.connections.length, `connections named apart: ${imported.connections}`);
    await page.locator('#red-ui-workspace-chart').screenshot({ path: path.join(SHOTS, 'layout-all-examples-imported.png') });
  });

  it('shows no warning triangle on a connection saved before Time-out, Max attachment and Retry for existed', async function () {
    const old = FLOWS[0].nodes.map((n) => {
      if (n.type !== 'smtp-oauth-config') return n;
      const { timeout, maxAttachmentMB, retryForSeconds, ...before } = n;
      return before;
    });
    const { invalid } = await draw(old, 'load', 'old-');
    assert.deepEqual(invalid, []);
  });
});
