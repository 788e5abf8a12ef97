import { LogRowContextOptions, LogRowContextQueryDirection, LogRowModel } from '@grafana/data';

import { OktaQuery } from './types';

/**
 * Explore's "show context" of a log line: the events just before (backward) or just after
 * (forward) the line, of the same session when the line has one, else of the same actor.
 */

/** How far before / after the line context looks, unless Explore asks for another window. */
export const CONTEXT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_CONTEXT_LIMIT = 50;
/** refId prefix of a context query. */
export const CONTEXT_PREFIX = 'log-context-';

/** The label the context follows: the session, else the actor; undefined when the line has neither. */
export function contextLabel(row: LogRowModel): { key: 'sessionId' | 'actor'; value: string } | undefined {
  const labels = row.labels ?? {};
  if (labels.sessionId) {
    return { key: 'sessionId', value: labels.sessionId };
  }
  if (labels.actor) {
    return { key: 'actor', value: labels.actor };
  }
  return undefined;
}

/** The context query of a line and its time range (inclusive unix ms). */
export function contextQuery(
  row: LogRowModel,
  options?: LogRowContextOptions
): { query: OktaQuery; from: number; to: number } | undefined {
  const label = contextLabel(row);
  if (!label) {
    return undefined;
  }
  const forward = options?.direction === LogRowContextQueryDirection.Forward;
  const window = options?.timeWindowMs && options.timeWindowMs > 0 ? options.timeWindowMs : CONTEXT_WINDOW_MS;
  const t = row.timeEpochMs;
  const query: OktaQuery = {
    refId: CONTEXT_PREFIX + (forward ? 'after' : 'before'),
    queryType: 'activity',
    format: 'logs',
    [label.key]: label.value,
    limit: Math.max(1, Math.min(options?.limit ?? DEFAULT_CONTEXT_LIMIT, 1000)),
    direction: forward ? 'forward' : 'backward',
  };
  return forward ? { query, from: t, to: t + window } : { query, from: t - window, to: t };
}
