import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { main } from '../src/cli/index.js';
import { backendsUnderTest } from './helpers.js';

// One `demo --quick` run (the CI setting: 64×64 shapes, about a minute of training) feeds every test here.
let root = '';
let out = '';
let stdout = '';
let exitCode = -1;

/** Runs the CLI in-process, capturing what it prints (stderr is echoed too, so a slow CI run shows its progress). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [log, error] = [console.log, console.error];
  const captured = { stdout: '', stderr: '' };
  console.log = (...a: unknown[]) => void (captured.stdout += a.join(' ') + '\n');
  console.error = (...a: unknown[]) => { captured.stderr += a.join(' ') + '\n'; process.stderr.write(a.join(' ') + '\n'); };
  try {
    const code = await main(['node', 'focal-yolo', ...args]);
    return { code, ...captured };
  } finally {
    console.log = log;
    console.error = error;
  }
}

before(async () => {
  const backends = await backendsUnderTest();
  root = mkdtempSync(join(tmpdir(), 'fy-demo-'));
  out = join(root, 'demo');
  const r = await cli('--backend', backends[0], 'demo', '--quick', '--quiet', '--out', out);
  exitCode = r.code;
  stdout = r.stdout;
  if (r.code !== 0) console.error(r.stderr);
});

// FOCAL_YOLO_KEEP_TEST_OUTPUT=1 keeps the demo folder and the screenshots (report.png, compare.png) to look at
after(() => {
  if (process.env.FOCAL_YOLO_KEEP_TEST_OUTPUT) console.error(`demo test output kept in ${root}`);
  else rmSync(root, { recursive: true, force: true });
});

interface Summary {
  epochs: number;
  heldOutImages: number;
  files: Record<string, string>;
}

test('demo --quick runs end to end and its summary names files that exist', () => {
  assert.equal(exitCode, 0, 'demo --quick failed');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  for (const [what, path] of Object.entries(summary.files)) {
    assert.ok(existsSync(path), `${what}: ${path} does not exist`);
    assert.ok(stdout.includes(path), `the printed summary does not name ${path}`);
  }
  assert.ok(summary.epochs >= 2);
  const drawn = readdirSync(summary.files.detections).filter((f) => f.endsWith('.png'));
  assert.equal(drawn.length, summary.heldOutImages);
  const detections = JSON.parse(readFileSync(join(summary.files.detections, 'detections.json'), 'utf8')) as unknown[];
  assert.equal(detections.length, summary.heldOutImages);
  // the run trained: the training loss of the last epoch is below the first
  const history = JSON.parse(readFileSync(summary.files.history, 'utf8')) as { epochs: { train: { loss: number } }[] };
  const losses = history.epochs.map((e) => e.train.loss);
  assert.ok(losses[losses.length - 1] < losses[0], `training losses ${losses.join(' → ')}`);
});

/** Opens `file` in headless Chromium; returns, per figure, what it holds, and saves a full-page screenshot. */
async function inspectInChromium(file: string, screenshot: string): Promise<{ id: string; paths: number; imageWidth: number }[]> {
  const profile = mkdtempSync(join(root, 'chromium-'));
  let context: BrowserContext | null = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    assert.deepEqual(requests, [], 'the report fetched something');
    const figures = await page.$$eval('figure[data-figure]', (nodes) =>
      nodes.map((n) => {
        const img = n.querySelector('img');
        const box = n.getBoundingClientRect();
        return {
          id: n.getAttribute('data-figure') ?? '',
          paths: n.querySelectorAll('svg path').length,
          imageWidth: img && img.complete ? img.naturalWidth : 0,
          area: box.width * box.height,
        };
      }),
    );
    await page.screenshot({ path: screenshot, fullPage: true });
    for (const f of figures) assert.ok(f.area > 0, `figure ${f.id} takes no space`);
    return figures;
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

test('the report renders in headless Chromium with every figure drawn', async () => {
  assert.equal(exitCode, 0, 'demo --quick failed');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  const shot = join(root, 'report.png');
  const figures = await inspectInChromium(summary.files.report, shot);
  const ids = figures.map((f) => f.id);
  for (const id of ['loss', 'lr', 'map', 'objectness-split', 'pt-histogram', 'pr']) {
    const f = figures.find((g) => g.id === id);
    assert.ok(f, `figure ${id} missing (have ${ids.join(', ')})`);
    assert.ok(f.paths > 0, `figure ${id} has no drawn SVG path`);
  }
  const grid = figures.find((f) => f.id.startsWith('grid-'));
  assert.ok(grid && grid.imageWidth > 0, 'the validation image grid did not load');
  assert.ok(statSync(shot).size > 50_000, 'the screenshot is nearly empty');
});

test('compare: two runs side by side render in Chromium; bad input is a one-line error', async () => {
  assert.equal(exitCode, 0, 'demo --quick failed');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  const html = join(root, 'compare.html');
  const r = await cli('compare', summary.files.run, summary.files.run, '--no-evaluate', '--out', html);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /comparison of 2 runs/);
  const figures = await inspectInChromium(html, join(root, 'compare.png'));
  for (const id of ['loss', 'lr', 'objectness-split', 'pt-histogram']) assert.ok((figures.find((f) => f.id === id)?.paths ?? 0) > 0, `figure ${id}`);

  const one = await cli('compare', summary.files.run);
  assert.equal(one.code, 1);
  assert.match(one.stderr, /^focal-yolo: error: compare: 1 run folder given; pass two or more/);
  assert.equal(one.stderr.trim().split('\n').length, 1);
  const loss = await cli('demo', '--loss', 'hinge', '--out', join(root, 'never'));
  assert.equal(loss.code, 1);
  assert.match(loss.stderr, /--loss hinge must be focal or bce/);
  assert.ok(!existsSync(join(root, 'never')), 'a refused demo wrote files');
});
