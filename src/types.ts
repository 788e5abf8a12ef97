import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/**
 * Query types of the plugin query model (contract, see team APIS.md "Plugin query model").
 */
export type QueryType =
  | 'activity'
  | 'alerts'
  | 'timeseries'
  | 'geo'
  | 'posture'
  | 'posture_history'
  | 'users'
  | 'exceptions'
  | 'alert_history'
  | 'user';

export const QUERY_TYPES: QueryType[] = [
  'activity',
  'alerts',
  'timeseries',
  'geo',
  'posture',
  'posture_history',
  'users',
  'exceptions',
  'alert_history',
  'user',
];

export type Outcome = 'SUCCESS' | 'FAILURE' | 'SKIPPED' | 'ALLOW' | 'DENY' | 'CHALLENGE' | 'UNKNOWN';
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export type GroupBy = '' | 'eventType' | 'outcome' | 'country' | 'detector' | 'severity';
export type SeriesSource = 'events' | 'alerts';
export type ActivityFormat = 'table' | 'logs';
export type PostureProfile = 'baseline' | 'stig';
export type CheckStatus = 'pass' | 'fail' | 'error' | 'not_applicable' | 'manual' | 'partial';

/**
 * One query: `{"queryType": "<type>", ...filters}`. Every filter is optional; which filters a
 * query type honours is listed in QUERY_FIELDS. String filters may hold template variables.
 */
export interface OktaQuery extends DataQuery {
  /** logs_volume is Explore's logs volume of an activity query (supplementary, no editor) */
  queryType?: QueryType | 'logs_volume';

  /** activity, alerts, timeseries, geo: actor login (alternateId); users: a search string */
  actor?: string;
  /** event type prefix, e.g. `user.session.` */
  eventType?: string;
  outcome?: Outcome | string;
  ip?: string;
  country?: string;
  /** free-text search (activity) */
  text?: string;
  sessionId?: string;
  /** rows, default 1000, max 50000 */
  limit?: number;
  format?: ActivityFormat;

  detector?: string;
  /** one severity or a comma-separated list (`high,critical`) */
  severity?: string;

  source?: SeriesSource;
  groupBy?: GroupBy;
  /** Go duration (`5m`, `1h`); empty: Grafana's interval */
  interval?: string;

  profile?: PostureProfile | string;
  status?: CheckStatus | string;
  category?: string;
  check?: string;
  /** posture_history: the recorded regressions (check, resource, cause) instead of the score */
  drift?: boolean;
  /** exceptions: list expired and removed exceptions too */
  all?: boolean;
  /** user: which part of the user's story (signins, clients, sessions, admin_by, admin_to, factors) */
  view?: UserView;

  /** activity: drop the events whose log label equals a value ("filter out value", `!=` ad hoc filters) */
  exclude?: LabelExclusion[];
  /** activity: `backward` (default, newest first) or `forward` (oldest first: log context after a line) */
  direction?: 'backward' | 'forward';
}

/** One "label != value" of an activity query. */
export interface LabelExclusion {
  key: LogLabelFilter;
  value: string;
}

/** Views of query type user (one user's story). */
export type UserView = 'signins' | 'clients' | 'sessions' | 'admin_by' | 'admin_to' | 'factors';

/** Alert triage statuses; alerts, alert_history and alert time series take a comma-separated list or `all`. */
export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'dismissed';

/** The string-valued filters: each one goes through template-variable interpolation. */
export const STRING_FILTERS = [
  'actor',
  'eventType',
  'outcome',
  'ip',
  'country',
  'text',
  'sessionId',
  'detector',
  'severity',
  'interval',
  'profile',
  'status',
  'category',
  'check',
] as const;

export type StringFilter = (typeof STRING_FILTERS)[number];

/** Which model fields each query type uses (besides queryType). */
export const QUERY_FIELDS: Record<QueryType, ReadonlyArray<keyof OktaQuery>> = {
  activity: ['actor', 'eventType', 'outcome', 'ip', 'country', 'text', 'sessionId', 'exclude', 'limit', 'format'],
  alerts: ['detector', 'severity', 'actor', 'status', 'limit'],
  timeseries: ['source', 'groupBy', 'interval', 'actor', 'eventType', 'outcome', 'detector', 'severity', 'status'],
  geo: ['actor', 'eventType', 'outcome', 'limit'],
  posture: ['profile', 'status', 'category'],
  posture_history: ['profile', 'check', 'drift'],
  users: ['actor', 'limit'],
  exceptions: ['all', 'limit'],
  alert_history: ['status', 'limit'],
  user: ['view', 'actor', 'limit'],
};

/**
 * The fields of a log line's labels (the activity logs frame): each is also an activity filter, so
 * Explore's "filter for value" and ad hoc filters set it.
 */
export const LOG_LABEL_FILTERS = ['eventType', 'actor', 'outcome', 'ip', 'country', 'sessionId'] as const;
export type LogLabelFilter = (typeof LOG_LABEL_FILTERS)[number];

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 50000;

export const DEFAULT_QUERY: Partial<OktaQuery> = {
  queryType: 'activity',
  format: 'table',
  limit: DEFAULT_LIMIT,
};

export type IPListCategory = 'anonymous' | 'suspicious' | 'risky' | 'trusted';
export const IP_LIST_CATEGORIES: IPListCategory[] = ['anonymous', 'suspicious', 'risky', 'trusted'];

export type AuthType = 'apiToken' | 'oauth';
export type Sensitivity = 'low' | 'medium' | 'high';

/**
 * Per-detector settings in jsonData.detectors[id] (the detection engine's config, also the
 * `detectors:` key of the CLI config file). Every field is optional: absent means default.
 */
export interface DetectorSettings {
  /** false turns the detector off (default true) */
  enabled?: boolean;
  /** low, medium (default) or high: which suppression sets apply */
  sensitivity?: Sensitivity;
  /** glob patterns of actors or source IPs the detector is limited to / never alerts on */
  include?: string[];
  exclude?: string[];
  /** dedup quiet period (Go duration) */
  rearm?: string;
  /** emit info alerts during the learning period instead of recording silently */
  learningAlerts?: boolean;
  /** thresholds: parameter name → number or Go duration string; absent names use defaults */
  params?: Record<string, number | string | boolean>;
}

/**
 * jsonData: every non-secret setting (DESIGN.md "Plugin settings", contract names).
 */
export interface OktaOptions extends DataSourceJsonData {
  /** https://<your-org>.okta.com (http only to a loopback address) */
  orgUrl?: string;
  authType?: AuthType;
  /** OAuth 2.0 service app client id (authType oauth) */
  clientId?: string;
  /** kid of the service app's key, needed when the app has several keys (authType oauth) */
  keyId?: string;
  /** OAuth scopes granted to the service app */
  scopes?: string[];
  /** Go duration, default 168h */
  backfill?: string;
  /** Go duration, default 30s */
  pollInterval?: string;
  /** share (0,1] of the org's System Log rate limit this data source may use, default 0.5 */
  rateLimitShare?: number;
  ipLists?: Partial<Record<IPListCategory, string[]>>;
  geoipCityDB?: string;
  geoipAsnDB?: string;
  /** GeoIP2 Anonymous-IP .mmdb: anonymizer flags (VPN, Tor, hosting, proxy) */
  geoipAnonymousDB?: string;
  detectors?: Record<string, DetectorSettings>;
  postureProfile?: PostureProfile;
  storagePath?: string;
  /** run an in-process Okta simulator with attack traffic instead of a real org (demo only) */
  demo?: boolean;
}

/** secureJsonData: write-only, never sent back to the browser. */
export interface OktaSecureOptions {
  apiToken?: string;
  /** PEM private key of the OAuth service app (private_key_jwt) */
  privateKey?: string;
}
