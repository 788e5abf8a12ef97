/**
 * The bundled dashboards use only the plugin's contract query model: known query types, only the
 * fields each type understands, the data source through the `datasource` variable.
 */
import fs from 'fs';
import path from 'path';

import { parseVariableText } from './variables';
import { QUERY_FIELDS, QueryType } from './types';

const ROOT = path.resolve(__dirname, '..');
const PLUGIN_ID = 'oktaguard-okta-datasource';
const COMMON = new Set(['refId', 'datasource', 'queryType', 'hide', 'key']);

interface Target extends Record<string, unknown> {
  refId: string;
  queryType?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<Record<string, unknown>> };
  annotations: { list: Array<{ datasource?: { type: string; uid: string }; target?: Target }> };
}

const pluginJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'plugin.json'), 'utf8'));
const files: string[] = pluginJson.includes
  .filter((i: { type: string }) => i.type === 'dashboard')
  .map((i: { path: string }) => i.path);

function checkTarget(where: string, t: Target) {
  const qt = t.queryType as QueryType;
  expect(Object.keys(QUERY_FIELDS)).toContain(qt);
  const allowed = new Set([...COMMON, ...QUERY_FIELDS[qt]]);
  const extra = Object.keys(t).filter((k) => !allowed.has(k));
  expect({ where, extra }).toEqual({ where, extra: [] });
  if (t.limit !== undefined) {
    expect(Number.isInteger(t.limit)).toBe(true);
    expect(t.limit as number).toBeGreaterThan(0);
    expect(t.limit as number).toBeLessThanOrEqual(50000);
  }
}

describe.each(files)('dashboard %s', (file) => {
  const dash: Dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'dashboards', path.basename(file)), 'utf8'));
  const panels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

  it('is listed with its title and has a stable uid', () => {
    expect(file.startsWith('dashboards/')).toBe(true);
    const inc = pluginJson.includes.find((i: { path: string }) => i.path === file);
    expect(inc.name).toBe(dash.title);
    expect(dash.uid).toMatch(/^oktaguard-[a-z]+$/);
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('has the datasource variable of the plugin type and resource-backed variables', () => {
    const vars = dash.templating.list;
    const ds = vars.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: PLUGIN_ID });
    for (const v of vars.filter((x) => x.type === 'query')) {
      expect(v.datasource).toEqual({ type: PLUGIN_ID, uid: '${datasource}' });
      expect(parseVariableText(String(v.query))).toBeDefined();
      expect(v.allValue).toBe('*');
    }
  });

  it('queries only through the datasource variable with contract query models', () => {
    expect(panels.length).toBeGreaterThan(3);
    for (const p of panels) {
      expect({ panel: p.title, ds: p.datasource }).toEqual({
        panel: p.title,
        ds: { type: PLUGIN_ID, uid: '${datasource}' },
      });
      expect(p.targets?.length).toBeGreaterThan(0);
      const refIds = new Set<string>();
      for (const t of p.targets ?? []) {
        expect(t.datasource).toEqual({ type: PLUGIN_ID, uid: '${datasource}' });
        checkTarget(`${dash.title} / ${p.title} / ${t.refId}`, t);
        expect(refIds.has(t.refId)).toBe(false);
        refIds.add(t.refId);
      }
    }
    for (const a of dash.annotations.list.filter((x) => x.datasource?.type === PLUGIN_ID)) {
      checkTarget(`${dash.title} / annotation`, a.target as Target);
    }
  });

  it('has unique panel ids', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('dashboard set', () => {
  it('bundles the four dashboards', () => {
    expect(files.map((f) => path.basename(f)).sort()).toEqual([
      'okta-activity.json',
      'okta-posture.json',
      'okta-threats.json',
      'okta-user-investigation.json',
    ]);
  });

  it('gives the alert tables confirmed actions that call the data source resources through the proxy', () => {
    let actions = 0;
    for (const f of files) {
      const d = JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'));
      for (const p of d.panels as Array<{
        title: string;
        fieldConfig?: { defaults?: { actions?: Array<Record<string, any>> } };
      }>) {
        for (const a of p.fieldConfig?.defaults?.actions ?? []) {
          actions++;
          expect(a.type).toBe('fetch');
          expect(String(a.confirmation).length).toBeGreaterThan(10);
          expect(a.fetch.method).toBe('POST');
          expect(a.fetch.url).toMatch(
            /^\/api\/datasources\/uid\/\$\{datasource\}\/resources\/(alerts\/\$\{__data\.fields\.id\}\/state|exceptions\/\$\{__data\.fields\.id\}\/remove)$/
          );
          expect(() => JSON.parse(a.fetch.body)).not.toThrow();
        }
      }
    }
    expect(actions).toBeGreaterThanOrEqual(5);
  });

  it('uses only Grafana features of the version plugin.json requires', () => {
    // Dashboard JSON keys whose feature needs a newer Grafana than 10.x (older versions drop them
    // silently): a dashboard using one needs grafanaDependency at least that version.
    const FEATURE_SINCE: Record<string, string> = { actions: '11.5.0' };
    const version = (v: string) => v.split('.').map((n) => parseInt(n, 10));
    const atLeast = (a: string, b: string) => {
      const [x, y] = [version(a), version(b)];
      for (let i = 0; i < 3; i++) {
        if ((x[i] ?? 0) !== (y[i] ?? 0)) {
          return (x[i] ?? 0) > (y[i] ?? 0);
        }
      }
      return true;
    };
    const dep = /^>=\s*(\d+\.\d+\.\d+)$/.exec(pluginJson.dependencies.grafanaDependency);
    expect(dep).not.toBeNull();
    const used: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) {
        v.forEach(walk);
      } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k in FEATURE_SINCE && Array.isArray(x) && x.length > 0) {
            used.push(k);
          }
          walk(x);
        }
      }
    };
    for (const f of files) {
      walk(JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    }
    expect(used).toContain('actions'); // the Threats dashboard's triage actions
    for (const k of used) {
      expect({ feature: k, grafanaDependency: dep![1], ok: atLeast(dep![1], FEATURE_SINCE[k]) }).toMatchObject({
        ok: true,
      });
    }
  });

  it('covers every query type across the dashboards', () => {
    const used = new Set<string>();
    for (const f of files) {
      const d: Dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'));
      d.panels.forEach((p) => p.targets?.forEach((t) => used.add(String(t.queryType))));
    }
    expect([...used].sort()).toEqual(Object.keys(QUERY_FIELDS).sort());
  });
});
