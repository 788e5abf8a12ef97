import { SelectableValue } from '@grafana/data';

import { GroupBy, QueryType, Severity, UserView } from './types';

export const PLUGIN_ID = 'oktaguard-okta-datasource';

/** A detector parameter editable in the config editor (name as the detection engine knows it). */
export interface ParamInfo {
  key: string;
  label: string;
  /** number or integer thresholds, or a Go duration string */
  kind: 'number' | 'int' | 'duration';
  default: number | string;
  unit?: string;
  description?: string;
}

export interface DetectorInfo {
  id: string;
  title: string;
  severity: Severity;
  params: ParamInfo[];
}

/**
 * The 11 built-in detectors (ids are a contract) with the main thresholds of each (parameter names and
 * defaults as the detection engine declares them; docs/detectors.md lists every parameter).
 */
export const DETECTORS: DetectorInfo[] = [
  {
    id: 'impossible_travel',
    title: 'Impossible travel',
    severity: 'high',
    params: [
      {
        key: 'speedKmh',
        label: 'Speed',
        kind: 'number',
        default: 900,
        unit: 'km/h',
        description: 'Alert above this speed between the anchor and the new sign-in',
      },
      {
        key: 'minDistanceKm',
        label: 'Min distance',
        kind: 'number',
        default: 500,
        unit: 'km',
        description: 'Ignore hops shorter than this',
      },
      {
        key: 'anchorWindow',
        label: 'Anchor window',
        kind: 'duration',
        default: '24h',
        description: 'Compare only with an anchor sign-in this recent',
      },
      {
        key: 'knownCountryMin',
        label: 'Known country',
        kind: 'int',
        default: 3,
        description: 'Destination country with at least this many sign-ins in 30 days is not alerted',
      },
    ],
  },
  {
    id: 'infrequent_country',
    title: 'Activity from infrequent country',
    severity: 'medium',
    params: [
      {
        key: 'minTenantUsers',
        label: 'Rare below users',
        kind: 'int',
        default: 2,
        description: 'A country is rare when fewer users used it in 30 days',
      },
      {
        key: 'tenantShare',
        label: 'Rare below share',
        kind: 'number',
        default: 0.01,
        description: "Share of the tenant's active users below which a country is rare",
      },
    ],
  },
  {
    id: 'anonymous_ip',
    title: 'Activity from anonymous IP address',
    severity: 'medium',
    params: [
      {
        key: 'sharedOperatorUsers',
        label: 'Shared operator users',
        kind: 'int',
        default: 5,
        description: 'An operator used by this many users in 30 days is treated as mis-tagged egress',
      },
      {
        key: 'escalationWindow',
        label: 'Escalation window',
        kind: 'duration',
        default: '30m',
        description: 'Raise a high-severity follow-up when admin activity follows within this window',
      },
    ],
  },
  {
    id: 'suspicious_ip',
    title: 'Successful logon from a suspicious IP address',
    severity: 'high',
    params: [
      {
        key: 'sprayUsers',
        label: 'Spray source users',
        kind: 'int',
        default: 10,
        description: 'Failures against at least this many distinct users make an IP a spray source',
      },
      { key: 'sprayMaxAttempts', label: 'Max attempts per user', kind: 'int', default: 3 },
      {
        key: 'threatWindow',
        label: 'Threat window',
        kind: 'duration',
        default: '24h',
        description: 'How long a ThreatInsight verdict or spray behaviour marks the IP',
      },
    ],
  },
  {
    id: 'failed_logins',
    title: 'Multiple failed login attempts',
    severity: 'medium',
    params: [
      {
        key: 'minFailures',
        label: 'Failures',
        kind: 'int',
        default: 10,
        description: 'Static threshold: failures in the window or session',
      },
      { key: 'window', label: 'Window', kind: 'duration', default: '5m' },
      {
        key: 'sigmas',
        label: 'Sigmas',
        kind: 'number',
        default: 3,
        description: "Adaptive threshold: mean + sigmas × σ of the user's hourly failures",
      },
    ],
  },
  {
    id: 'password_spray',
    title: 'Password spray',
    severity: 'medium',
    params: [
      {
        key: 'minUsers',
        label: 'Distinct users',
        kind: 'int',
        default: 10,
        description: 'Distinct targeted users from one source',
      },
      { key: 'maxAttemptsPerUser', label: 'Max attempts per user', kind: 'int', default: 3 },
      { key: 'window', label: 'Window', kind: 'duration', default: '30m' },
    ],
  },
  {
    id: 'mfa_fatigue',
    title: 'MFA fatigue (push bombing)',
    severity: 'high',
    params: [
      {
        key: 'minBad',
        label: 'Denied pushes',
        kind: 'int',
        default: 5,
        description: 'Denied or unanswered pushes (or MFA failures) in the window',
      },
      { key: 'window', label: 'Window', kind: 'duration', default: '15m' },
      {
        key: 'successWindow',
        label: 'Success window',
        kind: 'duration',
        default: '30m',
        description: 'Critical when an MFA success follows within this time',
      },
    ],
  },
  {
    id: 'session_hijack',
    title: 'Session hijacking (cookie replay)',
    severity: 'high',
    params: [
      {
        key: 'lifetime',
        label: 'Session lifetime',
        kind: 'duration',
        default: '24h',
        description: 'Compare uses of a session up to this long after it was created',
      },
    ],
  },
  {
    id: 'unusual_admin',
    title: 'Unusual administrative activity',
    severity: 'medium',
    params: [
      {
        key: 'volumeZ',
        label: 'Volume z-score',
        kind: 'number',
        default: 3,
        description: "Session spike: z-score against the actor's past sessions",
      },
      {
        key: 'volumeMinEvents',
        label: 'Min events',
        kind: 'int',
        default: 10,
        description: 'A session spike needs at least this many admin events',
      },
    ],
  },
  {
    id: 'mass_destructive',
    title: 'Mass destructive identity activity',
    severity: 'high',
    params: [
      { key: 'minTargets', label: 'Distinct targets', kind: 'int', default: 20 },
      { key: 'window', label: 'Window', kind: 'duration', default: '10m' },
      {
        key: 'tokenAge',
        label: 'Token age',
        kind: 'duration',
        default: '24h',
        description: 'Critical when the burst uses an API token created this recently',
      },
    ],
  },
  {
    id: 'risky_ip_logon',
    title: 'Logon from a risky IP address',
    severity: 'medium',
    params: [],
  },
];

export const QUERY_TYPE_OPTIONS: Array<SelectableValue<QueryType>> = [
  { value: 'activity', label: 'Activity', description: 'System Log events (table or logs)' },
  { value: 'alerts', label: 'Alerts', description: 'Detections with evidence' },
  { value: 'timeseries', label: 'Time series', description: 'Counts of events or alerts per interval' },
  { value: 'geo', label: 'Geo', description: 'Sign-in locations for the Geomap panel' },
  { value: 'posture', label: 'Posture', description: 'Latest posture report, one row per check' },
  { value: 'posture_history', label: 'Posture history', description: 'Score and check status over time' },
  { value: 'users', label: 'Users', description: 'Per-user summary: alerts, failures, countries, last seen' },
  { value: 'exceptions', label: 'Exceptions', description: "Analysts' exceptions that suppress alerts" },
  {
    value: 'alert_history',
    label: 'Alert history',
    description: 'Triage changes: who moved which alert to what status',
  },
  {
    value: 'user',
    label: 'User',
    description: "One user's story: sign-ins, clients, sessions, admin actions, factors",
  },
];

export const ALERT_STATUS_OPTIONS: Array<SelectableValue<string>> = [
  { value: 'open,acknowledged', label: 'open, acknowledged', description: 'Default of the alerts table' },
  { value: 'open', label: 'open' },
  { value: 'acknowledged', label: 'acknowledged' },
  { value: 'resolved', label: 'resolved' },
  { value: 'dismissed', label: 'dismissed' },
  { value: 'all', label: 'all' },
];

export const USER_VIEW_OPTIONS: Array<SelectableValue<UserView>> = [
  { value: 'signins', label: 'Sign-ins', description: 'Sign-in and authentication events with outcome' },
  { value: 'clients', label: 'Devices and clients' },
  { value: 'sessions', label: 'Sessions' },
  { value: 'admin_by', label: 'Admin actions by the user' },
  { value: 'admin_to', label: 'Actions on the user' },
  { value: 'factors', label: 'Factor and password changes' },
];

export const OUTCOME_OPTIONS: Array<SelectableValue<string>> = [
  'SUCCESS',
  'FAILURE',
  'SKIPPED',
  'ALLOW',
  'DENY',
  'CHALLENGE',
  'UNKNOWN',
].map((v) => ({ value: v, label: v }));

export const SEVERITY_OPTIONS: Array<SelectableValue<string>> = ['info', 'low', 'medium', 'high', 'critical'].map(
  (v) => ({ value: v, label: v })
);

export const GROUP_BY_OPTIONS: Array<SelectableValue<GroupBy>> = [
  { value: '', label: 'None', description: 'One series' },
  { value: 'eventType', label: 'Event type' },
  { value: 'outcome', label: 'Outcome' },
  { value: 'country', label: 'Country' },
  { value: 'detector', label: 'Detector', description: 'Alerts only' },
  { value: 'severity', label: 'Severity', description: 'Alerts only' },
];

export const PROFILE_OPTIONS: Array<SelectableValue<string>> = [
  { value: 'baseline', label: 'Baseline' },
  { value: 'stig', label: 'DISA STIG' },
];

export const STATUS_OPTIONS: Array<SelectableValue<string>> = [
  'pass',
  'fail',
  'error',
  'manual',
  'not_applicable',
  'partial',
].map((v) => ({ value: v, label: v }));

/**
 * Scopes an OAuth service app needs: the System Log plus read access for the posture checks.
 * Must equal okta.DefaultScopes() of the back end (checked by TestDefaultScopesMatchFrontend in pkg/plugin).
 */
export const DEFAULT_OAUTH_SCOPES = [
  'okta.logs.read',
  'okta.apiTokens.read',
  'okta.apps.read',
  'okta.authenticators.read',
  'okta.behaviors.read',
  'okta.brands.read',
  'okta.deviceAssurance.read',
  'okta.idps.read',
  'okta.logStreams.read',
  'okta.networkZones.read',
  'okta.orgs.read',
  'okta.policies.read',
  'okta.roles.read',
  'okta.templates.read',
  'okta.threatInsights.read',
  'okta.trustedOrigins.read',
  'okta.users.read',
];
