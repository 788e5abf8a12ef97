import { LOG_LABEL_FILTERS, LabelExclusion, LogLabelFilter, OktaQuery, QUERY_FIELDS, QueryType } from './types';

/**
 * Filters on a log line's labels: Explore's "filter for value" / "filter out value" buttons
 * (modifyQuery) and ad hoc filters with `=` / `!=` (applyTemplateVariables) go through here.
 */

const isLogLabel = (key: string): key is LogLabelFilter => (LOG_LABEL_FILTERS as readonly string[]).includes(key);

/** The query types whose model has an `exclude` list (the back end drops those events). */
const EXCLUDING_TYPES: ReadonlyArray<OktaQuery['queryType']> = ['activity', 'logs_volume'];

function fieldsOf(query: OktaQuery): ReadonlyArray<keyof OktaQuery> {
  const qt = query.queryType ?? 'activity';
  return qt === 'logs_volume' ? QUERY_FIELDS.activity : (QUERY_FIELDS[qt as QueryType] ?? []);
}

/**
 * Sets an equality filter on a query whose type honours it (and drops an exclusion of the same
 * value); other filters leave the query as is.
 */
export function withFilter(query: OktaQuery, key: string, value: string): OktaQuery {
  if (!isLogLabel(key) || !fieldsOf(query).includes(key) || value === '') {
    return query;
  }
  const out: OktaQuery = { ...query, [key]: value };
  const rest = (query.exclude ?? []).filter((e) => !(e.key === key && e.value === value));
  if (query.exclude && rest.length !== query.exclude.length) {
    if (rest.length) {
      out.exclude = rest;
    } else {
      delete out.exclude;
    }
  }
  return out;
}

/**
 * Adds "label != value" to a query whose type can exclude (activity and its logs volume), and
 * drops an equality filter on the same value; other queries are left as they are.
 */
export function withoutFilter(query: OktaQuery, key: string, value: string): OktaQuery {
  const qt = query.queryType ?? 'activity';
  if (!isLogLabel(key) || !EXCLUDING_TYPES.includes(qt)) {
    return query;
  }
  const exclude = query.exclude ?? [];
  if (exclude.some((e) => e.key === key && e.value === value)) {
    return query;
  }
  const out: OktaQuery = { ...query, exclude: [...exclude, { key, value } satisfies LabelExclusion] };
  if (query[key] === value) {
    delete out[key];
  }
  return out;
}
