import { CustomVariableSupport, DataQueryRequest, DataQueryResponse, MetricFindValue } from '@grafana/data';
import { DataQuery } from '@grafana/schema';
import { Observable, from, map } from 'rxjs';

import type { DataSource } from './datasource';
import { VariableQueryEditor } from './components/VariableQueryEditor';

/** What a template variable lists, from the plugin's resources. */
export type VariableKind = 'detectors' | 'actors' | 'event-types';

/**
 * A variable query: the kind, its argument (actors: a search; event-types: a prefix) and which
 * field gives each value's display text (detectors: `id` or `title`; the others: the value).
 */
export interface OktaVariableQuery extends DataQuery {
  kind: VariableKind;
  arg?: string;
  display?: 'value' | 'title';
}

export const VARIABLE_KINDS: Array<{ value: VariableKind; label: string; description: string; arg?: string }> = [
  { value: 'detectors', label: 'Detectors', description: 'detector ids (display: id or title)' },
  { value: 'actors', label: 'Actors', description: 'actor logins seen', arg: 'search' },
  { value: 'event-types', label: 'Event types', description: 'event types seen', arg: 'prefix' },
];

/**
 * Parses a legacy text variable query: `detectors`, `actors`, `actors:<search>`, `event-types`,
 * `event-types:<prefix>` (a `(...)` argument works too: `actors(ali)`); undefined if it is none.
 */
export function parseVariableText(text: string): { kind: VariableKind; arg: string } | undefined {
  const m = /^\s*(detectors|actors|event-types)\s*(?::\s*(.*?)|\((.*)\))?\s*$/.exec(text);
  if (!m) {
    return undefined;
  }
  return { kind: m[1] as VariableKind, arg: (m[2] ?? m[3] ?? '').trim() };
}

/**
 * Reads a saved variable query: the editor's object, or the legacy text (`actors:ali`); text
 * that is no variable query starts the editor at detectors.
 */
export function toVariableQuery(q: unknown): OktaVariableQuery {
  if (q && typeof q === 'object' && 'kind' in q) {
    return q as OktaVariableQuery;
  }
  const text = typeof q === 'string' ? q : ((q as { query?: string } | undefined)?.query ?? '');
  return { refId: 'OktaVariable', ...(parseVariableText(text) ?? { kind: 'detectors', arg: '' }) };
}

/** Values of one variable query (template variables in arg are interpolated by the caller). */
export async function variableValues(ds: DataSource, q: OktaVariableQuery): Promise<MetricFindValue[]> {
  switch (q.kind) {
    case 'detectors': {
      const list: Array<{ id?: string; title?: string }> = (await ds.getResource('detectors')) ?? [];
      return list
        .filter((d) => d.id)
        .map((d) => ({ value: d.id, text: q.display === 'title' && d.title ? d.title : (d.id ?? '') }));
    }
    case 'actors':
      return (await ds.getActors(q.arg ?? '')).map((o) => ({ value: o.value, text: o.value ?? '' }));
    case 'event-types':
      return (await ds.getEventTypes(q.arg ?? '')).map((o) => ({ value: o.value, text: o.value ?? '' }));
  }
}

/** The variable editor and its query (instead of the legacy text box). */
export class OktaVariableSupport extends CustomVariableSupport<DataSource, OktaVariableQuery> {
  constructor(private readonly ds: DataSource) {
    super();
  }

  editor = VariableQueryEditor;

  query(request: DataQueryRequest<OktaVariableQuery>): Observable<DataQueryResponse> {
    const q = toVariableQuery(request.targets[0]);
    const arg = this.ds.interpolate(q.arg ?? '', request.scopedVars);
    return from(variableValues(this.ds, { ...q, arg })).pipe(map((data) => ({ data })));
  }
}
