import {
  AdHocVariableFilter,
  AnnotationQuery,
  CoreApp,
  DataFrame,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  DataSourceWithLogsContextSupport,
  DataSourceWithSupplementaryQueriesSupport,
  LogRowContextOptions,
  LogRowModel,
  MetricFindValue,
  QueryFixAction,
  ScopedVars,
  SelectableValue,
  SupplementaryQueryOptions,
  SupplementaryQueryType,
  dateTime,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable, lastValueFrom, map, of } from 'rxjs';

import { framesToAnnotations } from './annotations';
import { withFilter, withoutFilter } from './labelFilters';
import { contextQuery } from './logContext';
import { toOptions } from './resources';
import {
  DEFAULT_QUERY,
  LOG_LABEL_FILTERS,
  MAX_LIMIT,
  OktaOptions,
  OktaQuery,
  QUERY_FIELDS,
  QUERY_TYPES,
  QueryType,
  STRING_FILTERS,
} from './types';
import { OktaVariableSupport, VariableKind, parseVariableText, variableValues } from './variables';

export type { VariableKind };
export { withFilter, withoutFilter };

/** refId prefix of the logs volume query Explore runs beside an activity logs query. */
export const LOGS_VOLUME_PREFIX = 'log-volume-';

/**
 * The value dashboards give a variable's "All" option. A filter that interpolates to it
 * (or to nothing) is dropped, so "All" means "no filter".
 */
export const ALL_VALUE = '*';

export class DataSource
  extends DataSourceWithBackend<OktaQuery, OktaOptions>
  implements DataSourceWithSupplementaryQueriesSupport<OktaQuery>, DataSourceWithLogsContextSupport<OktaQuery>
{
  constructor(instanceSettings: DataSourceInstanceSettings<OktaOptions>) {
    super(instanceSettings);
    this.variables = new OktaVariableSupport(this);
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

  /**
   * Interpolates every string filter (and a templated limit); "All" and empty values drop the
   * filter. Ad hoc filters with `=` on a log label (eventType, actor, outcome, ip, country,
   * sessionId) become that filter on the query types that honour it; `!=` becomes an exclusion
   * on activity queries (and their logs volume); other operators are not supported by the back
   * end and are ignored.
   */
  applyTemplateVariables(query: OktaQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): OktaQuery {
    const srv = getTemplateSrv();
    let out: OktaQuery = { ...query };
    for (const f of filters ?? []) {
      if (f.operator === '=') {
        out = withFilter(out, f.key, f.value);
      } else if (f.operator === '!=') {
        out = withoutFilter(out, f.key, f.value);
      }
    }
    query = out;
    out = { ...out };
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
    return QUERY_TYPES.includes(query.queryType as QueryType) || query.queryType === 'logs_volume';
  }

  /** Explore's "filter for value" / "filter out value" on a log line's label. */
  modifyQuery(query: OktaQuery, action: QueryFixAction): OktaQuery {
    const opts = action.options ?? {};
    if (!opts.key || opts.value === undefined) {
      return query;
    }
    if (action.type === 'ADD_FILTER') {
      return withFilter(query, opts.key, String(opts.value));
    }
    if (action.type === 'ADD_FILTER_OUT') {
      return withoutFilter(query, opts.key, String(opts.value));
    }
    return query;
  }

  getSupportedQueryModifications(): string[] {
    return ['ADD_FILTER', 'ADD_FILTER_OUT'];
  }

  /** The context query of a log line (Explore opens it in a split view). */
  async getLogRowContextQuery(row: LogRowModel, options?: LogRowContextOptions): Promise<OktaQuery | null> {
    return contextQuery(row, options)?.query ?? null;
  }

  /** The events before (backward) or after (forward) a log line, of its session, else its actor. */
  async getLogRowContext(row: LogRowModel, options?: LogRowContextOptions): Promise<DataQueryResponse> {
    const c = contextQuery(row, options);
    if (!c) {
      return { data: [] };
    }
    const from = dateTime(c.from);
    const to = dateTime(c.to);
    const request = {
      app: CoreApp.Explore,
      requestId: c.query.refId,
      interval: '1s',
      intervalMs: 1000,
      range: { from, to, raw: { from, to } },
      scopedVars: options?.scopedVars ?? {},
      targets: [c.query],
      timezone: 'UTC',
      startTime: Date.now(),
    } as DataQueryRequest<OktaQuery>;
    return lastValueFrom(this.query(request));
  }

  /** Ad hoc filter keys: the log labels. */
  async getTagKeys(): Promise<MetricFindValue[]> {
    return LOG_LABEL_FILTERS.map((k) => ({ text: k, value: k }));
  }

  /** Ad hoc filter values for the keys the resources list. */
  async getTagValues(options: { key: string }): Promise<MetricFindValue[]> {
    let opts: Array<SelectableValue<string>> = [];
    if (options.key === 'actor') {
      opts = await this.getActors();
    } else if (options.key === 'eventType') {
      opts = await this.getEventTypes();
    } else if (options.key === 'outcome') {
      opts = ['SUCCESS', 'FAILURE', 'SKIPPED', 'ALLOW', 'DENY', 'CHALLENGE', 'UNKNOWN'].map((v) => ({ value: v }));
    }
    return opts.map((o) => ({ text: o.value ?? '', value: o.value }));
  }

  getSupportedSupplementaryQueryTypes(): SupplementaryQueryType[] {
    return [SupplementaryQueryType.LogsVolume];
  }

  /** The logs volume of an activity logs query: same filters, counts per level (query type logs_volume). */
  getSupplementaryQuery(options: SupplementaryQueryOptions, query: OktaQuery): OktaQuery | undefined {
    if (
      options.type !== SupplementaryQueryType.LogsVolume ||
      query.queryType !== 'activity' ||
      query.format !== 'logs'
    ) {
      return undefined;
    }
    const out: OktaQuery = { refId: LOGS_VOLUME_PREFIX + query.refId, queryType: 'logs_volume' };
    for (const k of QUERY_FIELDS.activity) {
      if (k !== 'limit' && k !== 'format' && query[k] !== undefined) {
        (out as unknown as Record<string, unknown>)[k] = query[k];
      }
    }
    return out;
  }

  getSupplementaryRequest(
    type: SupplementaryQueryType,
    request: DataQueryRequest<OktaQuery>
  ): DataQueryRequest<OktaQuery> | undefined {
    const targets = request.targets
      .map((q) => this.getSupplementaryQuery({ type }, q))
      .filter((q): q is OktaQuery => q !== undefined);
    if (targets.length === 0) {
      return undefined;
    }
    return { ...request, requestId: request.requestId + '_log_volume', targets };
  }

  /** Marks logs volume frames the way Explore's histogram expects. */
  query(request: DataQueryRequest<OktaQuery>): Observable<DataQueryResponse> {
    return super.query(request).pipe(
      map((res) => {
        for (const f of res.data as DataFrame[]) {
          if (f.refId?.startsWith(LOGS_VOLUME_PREFIX)) {
            f.meta = {
              ...f.meta,
              custom: {
                ...f.meta?.custom,
                logsVolumeType: 'FullRange',
                absoluteRange: { from: request.range.from.valueOf(), to: request.range.to.valueOf() },
                datasourceName: this.name,
                sourceQuery: request.targets.find((t) => LOGS_VOLUME_PREFIX + t.refId === f.refId),
              },
            };
          }
        }
        return res;
      })
    );
  }

  /** Template-variable values from the plugin's resources (legacy text queries; see variables.ts). */
  async metricFindQuery(
    query: string | { query?: string },
    options?: { scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    const text = typeof query === 'string' ? query : (query?.query ?? '');
    const parsed = parseVariableText(getTemplateSrv().replace(text, options?.scopedVars));
    if (!parsed) {
      throw new Error(`unknown variable query "${text}": use detectors, actors[:search] or event-types[:prefix]`);
    }
    return variableValues(this, { refId: 'OktaVariable', ...parsed });
  }

  /** Interpolates template variables in a variable query's argument. */
  interpolate(text: string, scopedVars?: ScopedVars): string {
    return getTemplateSrv().replace(text, scopedVars);
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
