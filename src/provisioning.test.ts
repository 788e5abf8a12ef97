/**
 * The provisioning files: the data source (uid `oktaguard`, secrets only in secureJsonData) and the
 * Grafana-managed alert rules (contract query models, expression graph, links to dashboards).
 */
import fs from 'fs';
import path from 'path';
import { parse } from 'yaml';

import { QUERY_FIELDS, QueryType } from './types';

const ROOT = path.resolve(__dirname, '..');
const read = (rel: string) => parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));

interface Query {
  refId: string;
  datasourceUid: string;
  relativeTimeRange: { from: number; to: number };
  model: Record<string, unknown>;
}
interface Rule {
  uid: string;
  title: string;
  condition: string;
  data: Query[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  noDataState: string;
  execErrState: string;
}

const ALERT_MODEL_EXTRA = new Set(['refId', 'queryType', 'intervalMs', 'maxDataPoints', 'datasource', 'hide']);

describe('data source provisioning', () => {
  for (const file of ['provisioning/datasources/oktaguard.yaml', 'provisioning/demo/datasources/oktaguard.yaml']) {
    it(`${file}: uid oktaguard, plugin type, no secret in jsonData`, () => {
      const doc = read(file);
      expect(doc.apiVersion).toBe(1);
      expect(doc.datasources).toHaveLength(1);
      const ds = doc.datasources[0];
      expect(ds).toMatchObject({ uid: 'oktaguard', type: 'oktaguard-okta-datasource', access: 'proxy' });
      expect(Object.keys(ds.jsonData)).not.toEqual(expect.arrayContaining(['apiToken']));
      expect(ds.jsonData).not.toHaveProperty('apiToken');
      expect(ds.jsonData).not.toHaveProperty('privateKey');
    });
  }

  it('reads the org URL and token from the environment', () => {
    const ds = read('provisioning/datasources/oktaguard.yaml').datasources[0];
    expect(ds.jsonData.orgUrl).toBe('${OKTA_ORG_URL}');
    expect(ds.secureJsonData).toEqual({ apiToken: '${OKTA_API_TOKEN}' });
  });

  it('the demo data source runs the built-in simulator', () => {
    const ds = read('provisioning/demo/datasources/oktaguard.yaml').datasources[0];
    expect(ds.jsonData.demo).toBe(true);
    expect(ds.secureJsonData).toBeUndefined();
  });

  it('the dashboard provider points at the mounted dashboards folder', () => {
    const doc = read('provisioning/dashboards/oktaguard.yaml');
    expect(doc.providers[0]).toMatchObject({
      type: 'file',
      options: { path: '/var/lib/grafana/dashboards/oktaguard' },
    });
  });
});

describe('alert rules', () => {
  const doc = read('provisioning/alerting/oktaguard-rules.yaml');
  const rules: Rule[] = doc.groups.flatMap((g: { rules: Rule[] }) => g.rules);

  it('provisions the four rules with unique uids', () => {
    expect(doc.apiVersion).toBe(1);
    expect(rules.map((r) => r.uid).sort()).toEqual([
      'oktaguard-critical-detections',
      'oktaguard-high-detections',
      'oktaguard-ingestion-stalled',
      'oktaguard-posture-regression',
    ]);
  });

  it.each(rules.map((r) => [r.uid, r] as const))('%s: plugin queries use the contract model', (_uid, rule) => {
    const plugin = rule.data.filter((q) => q.datasourceUid !== '__expr__');
    expect(plugin.length).toBeGreaterThan(0);
    for (const q of plugin) {
      expect(q.datasourceUid).toBe('oktaguard');
      expect(q.model.refId).toBe(q.refId);
      const qt = q.model.queryType as QueryType;
      expect(['timeseries', 'posture_history']).toContain(qt);
      const allowed = new Set<string>([...ALERT_MODEL_EXTRA, ...QUERY_FIELDS[qt]]);
      expect(Object.keys(q.model).filter((k) => !allowed.has(k))).toEqual([]);
      expect(q.relativeTimeRange.from).toBeGreaterThan(q.relativeTimeRange.to);
    }
  });

  it.each(rules.map((r) => [r.uid, r] as const))(
    '%s: expressions form a graph ending in the condition',
    (_uid, rule) => {
      const refs = new Set(rule.data.map((q) => q.refId));
      expect(refs.size).toBe(rule.data.length);
      expect(refs.has(rule.condition)).toBe(true);
      for (const q of rule.data.filter((x) => x.datasourceUid === '__expr__')) {
        expect(['reduce', 'math', 'threshold']).toContain(q.model.type);
        const expr = String(q.model.expression);
        const used = q.model.type === 'math' ? [...expr.matchAll(/\$([A-Z])/g)].map((m) => m[1]) : [expr];
        for (const r of used) {
          expect(refs.has(r)).toBe(true);
        }
      }
      const cond = rule.data.find((q) => q.refId === rule.condition)!;
      expect(cond.datasourceUid).toBe('__expr__');
    }
  );

  it.each(rules.map((r) => [r.uid, r] as const))(
    '%s: summary, description and a link to a dashboard panel',
    (_uid, rule) => {
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
      expect(rule.annotations.description.length).toBeGreaterThan(40);
      expect(rule.labels.severity).toMatch(/^(critical|high)$/);
      const dash = JSON.parse(
        fs.readFileSync(
          path.join(ROOT, 'dashboards', `okta-${rule.annotations.__dashboardUid__.replace('oktaguard-', '')}.json`),
          'utf8'
        )
      );
      expect(dash.uid).toBe(rule.annotations.__dashboardUid__);
      const panel = dash.panels.find((p: { id: number }) => String(p.id) === rule.annotations.__panelId__);
      expect(panel).toBeDefined();
    }
  );

  it('detection rules group by detector and carry the severity filter as a label', () => {
    for (const uid of ['oktaguard-critical-detections', 'oktaguard-high-detections']) {
      const rule = rules.find((r) => r.uid === uid)!;
      const a = rule.data.find((q) => q.refId === 'A')!;
      expect(a.model).toMatchObject({ queryType: 'timeseries', source: 'alerts', groupBy: 'detector' });
      expect(rule.labels.severity).toBe(a.model.severity);
      // `.Labels`, not `$labels`: Grafana's file provisioning expands `$…` in labels and annotations.
      expect(rule.labels.detector).toBe('{{ .Labels.detector }}');
    }
  });

  it.each(rules.map((r) => [r.uid, r] as const))(
    '%s: no $ in title, labels or annotations (provisioning would expand it)',
    (_uid, rule) => {
      const texts = [rule.title, ...Object.values(rule.labels), ...Object.values(rule.annotations)];
      expect(texts.filter((s) => s.includes('$'))).toEqual([]);
    }
  );

  it('ingestion stalled fires on no data', () => {
    const rule = rules.find((r) => r.uid === 'oktaguard-ingestion-stalled')!;
    expect(rule.noDataState).toBe('Alerting');
    expect(rule.data[0].relativeTimeRange.from).toBe(900);
  });
});
