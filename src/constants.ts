import { SelectableValue } from '@grafana/data';

import { GroupBy, QueryType, Severity } from './types';

export const PLUGIN_ID = 'oktaguard-okta-datasource';

export interface ThresholdInfo {
  key: string;
  label: string;
  default: number;
  unit?: string;
  description?: string;
}

export interface DetectorInfo {
  id: string;
  title: string;
  severity: Severity;
  thresholds: ThresholdInfo[];
}

/** The 11 built-in detectors (ids are a contract) with their configurable thresholds and defaults. */
export const DETECTORS: DetectorInfo[] = [
  {
    id: 'impossible_travel',
    title: 'Impossible travel',
    severity: 'high',
    thresholds: [
      { key: 'speedKmh', label: 'Speed', default: 900, unit: 'km/h', description: 'Alert above this travel speed' },
      { key: 'minDistanceKm', label: 'Min distance', default: 500, unit: 'km' },
      { key: 'learningDays', label: 'Learning', default: 7, unit: 'days' },
    ],
  },
  {
    id: 'infrequent_country',
    title: 'Activity from infrequent country',
    severity: 'medium',
    thresholds: [
      { key: 'historyDays', label: 'History', default: 30, unit: 'days' },
      {
        key: 'tenantMinUsers',
        label: 'Rare below users',
        default: 2,
        description: 'Country is rare for the org when fewer users used it',
      },
      { key: 'learningDays', label: 'Learning', default: 7, unit: 'days' },
    ],
  },
  {
    id: 'anonymous_ip',
    title: 'Activity from anonymous IP address',
    severity: 'medium',
    thresholds: [
      {
        key: 'sharedOperatorUsers',
        label: 'Shared operator users',
        default: 5,
        description: 'Suppress operators used by this many users',
      },
      { key: 'learningDays', label: 'Learning', default: 7, unit: 'days' },
    ],
  },
  {
    id: 'suspicious_ip',
    title: 'Activity from suspicious IP address',
    severity: 'high',
    thresholds: [
      {
        key: 'sprayMinUsers',
        label: 'Spray source users',
        default: 10,
        description: 'Distinct users failed from one IP in 24 h',
      },
      { key: 'sprayMaxAttempts', label: 'Max attempts per user', default: 3 },
    ],
  },
  {
    id: 'failed_logins',
    title: 'Multiple failed login attempts',
    severity: 'medium',
    thresholds: [
      { key: 'failures', label: 'Failures', default: 10 },
      { key: 'windowMinutes', label: 'Window', default: 5, unit: 'min' },
      { key: 'learningDays', label: 'Learning', default: 7, unit: 'days' },
    ],
  },
  {
    id: 'password_spray',
    title: 'Password spray',
    severity: 'high',
    thresholds: [
      { key: 'minUsers', label: 'Distinct users', default: 10 },
      { key: 'maxAttemptsPerUser', label: 'Max attempts per user', default: 3 },
      { key: 'windowMinutes', label: 'Window', default: 30, unit: 'min' },
    ],
  },
  {
    id: 'mfa_fatigue',
    title: 'MFA fatigue (push bombing)',
    severity: 'high',
    thresholds: [
      { key: 'pushes', label: 'Denied pushes', default: 5 },
      { key: 'windowMinutes', label: 'Window', default: 15, unit: 'min' },
    ],
  },
  {
    id: 'session_hijack',
    title: 'Session hijack (roaming session)',
    severity: 'high',
    thresholds: [],
  },
  {
    id: 'unusual_admin',
    title: 'Unusual administrative activity',
    severity: 'medium',
    thresholds: [
      { key: 'zScore', label: 'Volume z-score', default: 3 },
      { key: 'minEvents', label: 'Min events per session', default: 10 },
      { key: 'learningDays', label: 'Learning', default: 7, unit: 'days' },
    ],
  },
  {
    id: 'mass_destructive',
    title: 'Mass destructive identity activity',
    severity: 'high',
    thresholds: [
      { key: 'minTargets', label: 'Distinct targets', default: 20 },
      { key: 'windowMinutes', label: 'Window', default: 10, unit: 'min' },
    ],
  },
  {
    id: 'risky_ip_logon',
    title: 'Logon from a risky IP address',
    severity: 'high',
    thresholds: [],
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

/** Scopes an OAuth service app needs: the System Log plus read access for the posture checks. */
export const DEFAULT_OAUTH_SCOPES = [
  'okta.logs.read',
  'okta.orgs.read',
  'okta.policies.read',
  'okta.authenticators.read',
  'okta.users.read',
  'okta.groups.read',
  'okta.roles.read',
  'okta.apps.read',
  'okta.apiTokens.read',
  'okta.networkZones.read',
  'okta.threatInsights.read',
  'okta.behaviors.read',
  'okta.idps.read',
  'okta.logStreams.read',
  'okta.trustedOrigins.read',
  'okta.brands.read',
  'okta.templates.read',
  'okta.deviceAssurance.read',
];
