import {
  AnnotationQuery,
  CoreApp,
  DataFrame,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
  SelectableValue,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { of } from 'rxjs';

import { framesToAnnotations } from './annotations';
import { toOptions } from './resources';
import { DEFAULT_QUERY, MAX_LIMIT, OktaOptions, OktaQuery, QUERY_TYPES, QueryType, STRING_FILTERS } from './types';

/**
 * The value dashboards give a variable's "All" option. A filter that interpolates to it
 * (or to nothing) is dropped, so "All" means "no filter".
 */
export const ALL_VALUE = '*';

/** Variable queries understood by metricFindQuery. */
export type VariableKind = 'detectors' | 'actors' | 'event-types';

/**
 * Parses a variable query: `detectors`, `actors`, `actors:<search>`, `event-types`,
 * `event-types:<prefix>` (a `(...)` argument works too: `actors(ali)`).
 */
export function parseVariableQuery(q: string): { kind: VariableKind; arg: string } | undefined {
  const m = /^\s*(detectors|actors|event-types)\s*(?::\s*(.*?)|\((.*)\))?\s*$/.exec(q);
  if (!m) {
    return undefined;
  }
  return { kind: m[1] as VariableKind, arg: (m[2] ?? m[3] ?? '').trim() };
}

export class DataSource extends DataSourceWithBackend<OktaQuery, OktaOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<OktaOptions>) {
    super(instanceSettings);
    this.annotations = {
      // An annotation without a query shows the detections (alerts) of the dashboard's range.
      prepareAnnotation: (json: AnnotationQuery<OktaQuery>) => {
        const target: OktaQuery = { refId: 'Anno', ...(json.target ?? {}) } as OktaQuery;
        if (!target.queryType) {
          target.queryType = 'alerts';
        }
        return { ...json, target };
      },
      processEvents: (_anno: AnnotationQuery<OktaQuery>, frames: DataFrame[]) => of(framesToAnnotations(frames)),
    };
  }

  getDefaultQuery(_: CoreApp): Partial<OktaQuery> {
    return DEFAULT_QUERY;
  }

  /** Interpolates every string filter (and a templated limit); "All" and empty values drop the filter. */
  applyTemplateVariables(query: OktaQuery, scopedVars: ScopedVars): OktaQuery {
    const srv = getTemplateSrv();
    const out: OktaQuery = { ...query };
    for (const key of STRING_FILTERS) {
      const raw = query[key];
      if (typeof raw !== 'string') {
        continue;
      }
      // Multi-value variables become a comma-separated list (severity accepts `high,critical`).
      const value = srv.replace(raw, scopedVars, 'csv').trim();
      if (value === '' || value === ALL_VALUE) {
        delete out[key];
      } else {
        out[key] = value;
      }
    }
    const limit: unknown = query.limit;
    if (typeof limit === 'string') {
      const n = parseInt(srv.replace(limit, scopedVars), 10);
      if (Number.isFinite(n) && n > 0) {
        out.limit = Math.min(n, MAX_LIMIT);
      } else {
        delete out.limit;
      }
    }
    return out;
  }

  /** Hidden queries and queries without a known type are not sent. */
  filterQuery(query: OktaQuery): boolean {
    if (query.hide) {
      return false;
    }
    return QUERY_TYPES.includes(query.queryType as QueryType);
  }

  /** Template-variable values from the plugin's resources (see parseVariableQuery). */
  async metricFindQuery(
    query: string | { query?: string },
    options?: { scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    const text = typeof query === 'string' ? query : (query?.query ?? '');
    const parsed = parseVariableQuery(getTemplateSrv().replace(text, options?.scopedVars));
    if (!parsed) {
      throw new Error(`unknown variable query "${text}": use detectors, actors[:search] or event-types[:prefix]`);
    }
    let opts: Array<SelectableValue<string>>;
    switch (parsed.kind) {
      case 'detectors':
        opts = await this.getDetectors();
        break;
      case 'actors':
        opts = await this.getActors(parsed.arg);
        break;
      case 'event-types':
        opts = await this.getEventTypes(parsed.arg);
        break;
    }
    return opts.map((o) => ({ text: o.value ?? '', value: o.value }));
  }

  /** GET resources/detectors: the detector registry. */
  async getDetectors(): Promise<Array<SelectableValue<string>>> {
    return toOptions(await this.getResource('detectors'), ['id', 'detector'], ['title']);
  }

  /** GET resources/event-types?prefix= : event types seen, optionally by prefix. */
  async getEventTypes(prefix = ''): Promise<Array<SelectableValue<string>>> {
    return toOptions(await this.getResource('event-types', prefix ? { prefix } : {}), ['eventType', 'type']);
  }

  /** GET resources/actors?q= : actor logins matching a search. */
  async getActors(q = ''): Promise<Array<SelectableValue<string>>> {
    return toOptions(await this.getResource('actors', q ? { q } : {}), ['actor', 'login', 'alternateId']);
  }

  /** POST resources/posture/refresh: evaluate posture now. */
  async refreshPosture(): Promise<unknown> {
    return this.postResource('posture/refresh', {});
  }
}
