/**
 * The screenshot harness page (see README.md): the plugin's real editors and @grafana/ui panels,
 * fed by frames and resource answers the plugin produced (screenshots/frames/, written by the Go
 * gRPC test). No Grafana server runs here; this page mounts what Grafana would mount.
 */
import {
  DataFrame,
  DataFrameJSON,
  DataSourceSettings,
  applyFieldOverrides,
  createTheme,
  dataFrameFromJSON,
} from '@grafana/data';
import { setTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { GlobalStyles, Table, ThemeContext } from '@grafana/ui';
import React, { useState } from 'react';
import { createRoot } from 'react-dom/client';

import { ConfigEditor } from '../src/components/ConfigEditor';
import { QueryEditor } from '../src/components/QueryEditor';
import { VariableQueryEditor } from '../src/components/VariableQueryEditor';
import { DataSource } from '../src/datasource';
import { newDataSource } from '../src/testutil/dataSource';
import { OktaOptions, OktaQuery, OktaSecureOptions } from '../src/types';
import { OktaVariableQuery } from '../src/variables';
import threatsDashboard from '../dashboards/okta-threats.json';
import postureDashboard from '../dashboards/okta-posture.json';

declare global {
  interface Window {
    OKTAGUARD_FRAMES: Record<string, unknown>;
    OKTAGUARD_READY?: boolean;
  }
}

const recorded = window.OKTAGUARD_FRAMES;
const theme = createTheme({ colors: { mode: 'dark' } });

setTemplateSrv({
  getVariables: () => [],
  replace: (s?: string) => s ?? '',
  containsTemplate: () => false,
  updateTimeRange: () => undefined,
} as unknown as TemplateSrv);

/** The real DataSource class; its resources answer what the plugin answered (frames/resource-*.json). */
function dataSource(): DataSource {
  const ds = newDataSource();
  ds.getResource = (async (path: string) => recorded['resource-' + path]) as DataSource['getResource'];
  return ds;
}

function frames(name: string): DataFrame[] {
  return (recorded[name] as DataFrameJSON[]).map((f) => dataFrameFromJSON(f));
}

interface PanelFieldConfig {
  defaults?: { unit?: string; custom?: Record<string, unknown> };
  overrides?: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }>;
}

interface DashboardPanel {
  id: number;
  title: string;
  fieldConfig?: PanelFieldConfig;
  panels?: DashboardPanel[];
}

/** The field config of a bundled dashboard's panel, by title (so the screenshot shows what the dashboard shows). */
function panelFieldConfig(dashboard: { panels: unknown[] }, title: string): PanelFieldConfig {
  const walk = (ps: DashboardPanel[]): DashboardPanel | undefined =>
    ps.map((p) => (p.title === title ? p : walk(p.panels ?? []))).find((p) => p !== undefined);
  const panel = walk(dashboard.panels as DashboardPanel[]);
  if (!panel?.fieldConfig) {
    throw new Error(`no panel "${title}" with a field config in the dashboard`);
  }
  return panel.fieldConfig;
}

/**
 * Grafana applies a panel's field config through the option registries of its core and of the
 * panel plugin, which are not in the npm packages; applyFieldOverrides without them ignores
 * every default and override. So the config is written into each field here: the panel's
 * defaults (unit, custom.*), then its byName overrides (mappings, custom.*, links), then the
 * given column widths. The overrides match a field's name or its display name, as Grafana's
 * byName matcher does.
 */
function withFieldConfig(frame: DataFrame, fc: PanelFieldConfig, widths: Record<string, number>): DataFrame {
  const fields = frame.fields.map((f) => {
    const config: Record<string, unknown> = { ...f.config, custom: { ...(fc.defaults?.custom ?? {}) } };
    if (fc.defaults?.unit) {
      config.unit = fc.defaults.unit;
    }
    const names = [f.name, f.config.displayNameFromDS, f.config.displayName];
    for (const o of fc.overrides ?? []) {
      if (o.matcher.id !== 'byName' || !names.includes(o.matcher.options)) {
        continue;
      }
      for (const prop of o.properties) {
        if (prop.id.startsWith('custom.')) {
          (config.custom as Record<string, unknown>)[prop.id.slice('custom.'.length)] = prop.value;
        } else {
          config[prop.id] = prop.value;
        }
      }
    }
    const w = names.map((n) => (n ? widths[n] : undefined)).find((v) => v !== undefined);
    if (w) {
      (config.custom as Record<string, unknown>).width = w;
    }
    return { ...f, config };
  });
  return { ...frame, fields };
}

/** @grafana/ui's Table as the Table panel draws it, with a bundled dashboard panel's field config. */
function TablePanel({
  frame,
  width,
  height,
  fieldConfig = {},
  widths = {},
}: {
  frame: DataFrame;
  width: number;
  height: number;
  fieldConfig?: PanelFieldConfig;
  widths?: Record<string, number>;
}) {
  const [data] = applyFieldOverrides({
    data: [withFieldConfig(frame, fieldConfig, widths)],
    fieldConfig: { defaults: {}, overrides: [] },
    replaceVariables: (v: string) => v,
    theme,
    timeZone: 'utc',
  });
  return <Table data={data} width={width} height={height} />;
}

/** A frame with only the named fields, in that order. */
function pick(frame: DataFrame, names: string[]): DataFrame {
  const fields = names.map((n) => frame.fields.find((f) => f.name === n)).filter((f) => f !== undefined);
  return { ...frame, fields, length: frame.length };
}

function Section({
  id,
  title,
  width,
  children,
}: {
  id: string;
  title: string;
  width: number;
  children: React.ReactNode;
}) {
  return (
    <section id={id} style={{ width, padding: 16, background: theme.colors.background.primary, marginBottom: 24 }}>
      <h3 style={{ marginBottom: 12 }}>{title}</h3>
      {children}
    </section>
  );
}

function QueryEditorShot() {
  const [query, setQuery] = useState<OktaQuery>({
    refId: 'A',
    queryType: 'activity',
    format: 'logs',
    eventType: 'user.session.',
    outcome: 'FAILURE',
    limit: 500,
    exclude: [{ key: 'country', value: 'United States' }],
  });
  return <QueryEditor query={query} onChange={setQuery} onRunQuery={() => undefined} datasource={dataSource()} />;
}

function ConfigEditorShot() {
  const [options, setOptions] = useState({
    id: 1,
    uid: 'oktaguard',
    orgId: 1,
    name: 'Okta (oktaguard)',
    type: 'oktaguard-okta-datasource',
    typeName: 'Okta (oktaguard)',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: true,
    readOnly: false,
    withCredentials: false,
    jsonData: { orgUrl: 'https://example.okta.com', authType: 'apiToken' },
    secureJsonFields: { apiToken: true },
    secureJsonData: {},
  } as unknown as DataSourceSettings<OktaOptions, OktaSecureOptions>);
  return <ConfigEditor options={options} onOptionsChange={setOptions} />;
}

function VariableEditorShot() {
  const [query, setQuery] = useState<OktaVariableQuery>({ refId: 'V', kind: 'detectors', display: 'title' });
  return (
    <VariableQueryEditor
      query={query}
      onChange={(q) => setQuery(q)}
      onRunQuery={() => undefined}
      datasource={dataSource()}
    />
  );
}

function App() {
  const logs = frames('activity-logs')[0];
  const alerts = frames('alerts')[0];
  const posture = frames('posture')[0];
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div style={{ background: theme.colors.background.canvas, color: theme.colors.text.primary, padding: 16 }}>
        <Section id="query-editor" title="Query editor: activity as logs, one value filtered out" width={1100}>
          <QueryEditorShot />
        </Section>
        <Section id="config-editor" title="Data source settings" width={900}>
          <ConfigEditorShot />
        </Section>
        <Section id="variable-editor" title="Template variable: detectors, shown by title" width={900}>
          <VariableEditorShot />
        </Section>
        <Section id="logs" title="Okta System Log lines (activity query, logs format) in a Table panel" width={1300}>
          <TablePanel
            frame={pick(logs, ['timestamp', 'severity', 'body', 'labels'])}
            width={1268}
            height={520}
            widths={{ timestamp: 170, severity: 80, body: 420 }}
          />
        </Section>
        <Section id="alerts" title="Detections (alerts)" width={1300}>
          <TablePanel
            frame={pick(alerts, ['time', 'detector', 'severity', 'status', 'actor', 'ip', 'country', 'title'])}
            width={1268}
            height={420}
            fieldConfig={panelFieldConfig(threatsDashboard, 'Alerts')}
            widths={{ time: 170, detector: 190, severity: 90, status: 90, actor: 230, ip: 120, country: 130 }}
          />
        </Section>
        <Section id="posture" title="Security posture (baseline profile)" width={1300}>
          <TablePanel
            frame={pick(
              posture,
              posture.fields.slice(0, 6).map((f) => f.name)
            )}
            width={1268}
            height={420}
            fieldConfig={panelFieldConfig(postureDashboard, 'Checks')}
            widths={{ id: 290, title: 330, category: 150, severity: 110, status: 110 }}
          />
        </Section>
      </div>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
setTimeout(() => (window.OKTAGUARD_READY = true), 0);
