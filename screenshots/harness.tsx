/**
 * The screenshot harness page (see README.md): the plugin's real editors and @grafana/ui panels,
 * fed by frames and resource answers the plugin produced (screenshots/frames/, written by the Go
 * gRPC test). No Grafana server runs here; this page mounts what Grafana would mount.
 */
import {
  DataFrame,
  DataFrameJSON,
  DataSourceInstanceSettings,
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
import { OktaOptions, OktaQuery, OktaSecureOptions } from '../src/types';
import { OktaVariableQuery } from '../src/variables';

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
  const ds = new DataSource({
    id: 1,
    uid: 'oktaguard',
    type: 'oktaguard-okta-datasource',
    name: 'Okta (oktaguard)',
    access: 'proxy',
    readOnly: false,
    jsonData: { orgUrl: 'https://example.okta.com' },
    meta: { id: 'oktaguard-okta-datasource' },
  } as unknown as DataSourceInstanceSettings<OktaOptions>);
  ds.getResource = (async (path: string) => recorded['resource-' + path]) as DataSource['getResource'];
  return ds;
}

function frames(name: string): DataFrame[] {
  return (recorded[name] as DataFrameJSON[]).map((f) => dataFrameFromJSON(f));
}

/** The Table panel's defaults; widths (px) for the named columns, as a dashboard would set them. */
function TablePanel({
  frame,
  width,
  height,
  widths = {},
}: {
  frame: DataFrame;
  width: number;
  height: number;
  widths?: Record<string, number>;
}) {
  const [data] = applyFieldOverrides({
    data: [frame],
    fieldConfig: {
      defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false } },
      overrides: Object.entries(widths).map(([name, w]) => ({
        matcher: { id: 'byName', options: name },
        properties: [{ id: 'custom.width', value: w }],
      })),
    },
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

function Section({ id, title, width, children }: { id: string; title: string; width: number; children: React.ReactNode }) {
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
        <Section id="logs" title="Okta System Log lines (activity, format logs)" width={1300}>
          <TablePanel
            frame={pick(logs, ['timestamp', 'severity', 'body', 'labels'])}
            width={1268}
            height={520}
            widths={{ timestamp: 190, severity: 90, body: 400 }}
          />
        </Section>
        <Section id="alerts" title="Detections (alerts)" width={1300}>
          <TablePanel
            frame={pick(alerts, ['time', 'detector', 'severity', 'status', 'actor', 'ip', 'country', 'title'])}
            width={1268}
            height={420}
            widths={{ time: 190, severity: 90, status: 80 }}
          />
        </Section>
        <Section id="posture" title="Security posture (baseline profile)" width={1300}>
          <TablePanel
            frame={pick(posture, posture.fields.slice(0, 6).map((f) => f.name))}
            width={1268}
            height={420}
          />
        </Section>
      </div>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
setTimeout(() => (window.OKTAGUARD_READY = true), 0);
