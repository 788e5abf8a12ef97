// Takes the catalog screenshots (README.md): bundles harness.tsx with esbuild, loads it in
// headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM=<path>) with the frames the plugin
// wrote, and saves one PNG per section to src/img/.
import { build } from 'esbuild';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const framesDir = path.resolve(process.env.OKTAGUARD_SCREENSHOT_FRAMES ?? path.join(here, 'frames'));
const outDir = path.join(root, 'src', 'img');
const shots = [
  ['query-editor', 'screenshot-query-editor.png'],
  ['config-editor', 'screenshot-config-editor.png'],
  ['variable-editor', 'screenshot-variable-editor.png'],
  ['logs', 'screenshot-logs.png'],
  ['alerts', 'screenshot-alerts.png'],
  ['posture', 'screenshot-posture.png'],
];

const recorded = {};
for (const f of fs.readdirSync(framesDir).filter((n) => n.endsWith('.json'))) {
  recorded[f.replace(/\.json$/, '')] = JSON.parse(fs.readFileSync(path.join(framesDir, f), 'utf8'));
}
for (const need of [
  'activity-logs',
  'alerts',
  'posture',
  'resource-detectors',
  'resource-actors',
  'resource-event-types',
]) {
  if (!recorded[need]) {
    throw new Error(`${framesDir}/${need}.json is missing: write the frames first (screenshots/README.md)`);
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'oktaguard-shots-'));
await build({
  entryPoints: [path.join(here, 'harness.tsx')],
  bundle: true,
  outfile: path.join(work, 'harness.js'),
  format: 'iife',
  platform: 'browser',
  jsx: 'automatic',
  loader: { '.svg': 'dataurl', '.png': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl' },
  define: { 'process.env.NODE_ENV': JSON.stringify(process.env.NODE_ENV ?? 'production'), global: 'window' },
  logLevel: 'warning',
  alias: { 'react-custom-scrollbars-2': path.join(here, 'shims', 'react-custom-scrollbars-2.js') },
});
fs.writeFileSync(
  path.join(work, 'index.html'),
  `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><style>body{margin:0;font-family:Inter,Helvetica,Arial,sans-serif}</style></head>
<body><div id="root"></div><script>window.grafanaBootData={settings:{buildInfo:{version:'13.1.1'},featureToggles:{}},user:{},navTree:[]};window.OKTAGUARD_FRAMES=${JSON.stringify(recorded).replace(/</g, '\\u003c')};</script>
<script src="harness.js"></script></body></html>`
);

// Served over http (file:// blocks the icon fetches): the page, and Grafana's icons from
// @grafana/ui where Grafana serves them (public/build/img/icons/...).
const icons = path.join(root, 'node_modules', '@grafana', 'ui', 'dist', 'public', 'img');
const missing = [];
const server = http.createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (url.startsWith('/public/fonts/')) {
    // Grafana's Inter font is not on npm: the page falls back to the system sans-serif.
    res.writeHead(204).end();
    return;
  }
  const file = url.startsWith('/public/build/img/')
    ? path.join(icons, url.slice('/public/build/img/'.length))
    : path.join(work, url === '/' ? 'index.html' : url);
  if (!file.startsWith(icons) && !file.startsWith(work)) {
    res.writeHead(403).end();
    return;
  }
  fs.readFile(file, (err, body) => {
    if (err) {
      missing.push(url);
      res.writeHead(404).end();
      return;
    }
    const type = { '.html': 'text/html', '.js': 'text/javascript', '.svg': 'image/svg+xml' }[path.extname(file)];
    res.writeHead(200, { 'content-type': type ?? 'application/octet-stream' }).end(body);
  });
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}/`;

// No network here: Chromium's own background connections are switched off (they are refused
// and slow the start).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(base);
  // Ready when every section rendered and the tables have rows.
  await page
    .waitForFunction(
      (ids) =>
        ids.every((id) => document.getElementById(id)) && document.querySelectorAll('#logs [role="row"]').length > 2,
      shots.map(([id]) => id),
      { timeout: 30000 }
    )
    .catch((e) => {
      throw new Error(`${e.message}\npage errors: ${errors.join('\n')}`);
    });
  await page.waitForLoadState('networkidle');
  if (errors.length) {
    throw new Error('harness page errors: ' + errors.join('; ') + ' missing: ' + missing.join(' '));
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const [id, file] of shots) {
    await page.locator('#' + id).screenshot({ path: path.join(outDir, file) });
    console.log('wrote', path.relative(root, path.join(outDir, file)));
  }
} finally {
  await browser.close();
  server.close();
  fs.rmSync(work, { recursive: true, force: true });
}
