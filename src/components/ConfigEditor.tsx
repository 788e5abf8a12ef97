import React, { ChangeEvent, useState } from 'react';

import { DataSourcePluginOptionsEditorProps, SelectableValue } from '@grafana/data';
import {
  Button,
  Field,
  FieldSet,
  Icon,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  Label,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  Stack,
  TextArea,
  Tooltip,
} from '@grafana/ui';

import { DEFAULT_OAUTH_SCOPES, DETECTORS, DetectorInfo, ParamInfo } from '../constants';
import {
  AuthType,
  DetectorSettings,
  IP_LIST_CATEGORIES,
  IPListCategory,
  OktaOptions,
  OktaSecureOptions,
  PostureProfile,
  Sensitivity,
} from '../types';
import {
  backfillError,
  isDuration,
  keyIdError,
  orgUrlError,
  pollIntervalError,
  rateLimitShareError,
} from '../validation';

export type Props = DataSourcePluginOptionsEditorProps<OktaOptions, OktaSecureOptions>;

const AUTH_OPTIONS: Array<SelectableValue<AuthType>> = [
  { label: 'API token', value: 'apiToken', description: 'An Okta API token (SSWS) of a read-only admin' },
  { label: 'OAuth service app', value: 'oauth', description: 'OAuth 2.0 service app with private_key_jwt' },
];

const PROFILE_OPTIONS: Array<SelectableValue<PostureProfile>> = [
  { label: 'Baseline', value: 'baseline' },
  { label: 'DISA STIG', value: 'stig' },
];

const SENSITIVITY_OPTIONS: Array<SelectableValue<Sensitivity>> = [
  { label: 'Low', value: 'low', description: 'Most suppressions (system, tenant and user)' },
  { label: 'Medium', value: 'medium', description: 'System and user suppressions (default)' },
  { label: 'High', value: 'high', description: 'System suppressions only: most alerts' },
];

const IP_LIST_HELP: Record<IPListCategory, string> = {
  anonymous: 'Anonymizer, proxy and Tor ranges (adds to the built-in signals)',
  suspicious: 'Threat-intel IPs: a successful sign-in from one raises an alert',
  risky: 'Ranges you consider risky (risky_ip_logon)',
  trusted: 'Corporate and VPN egress: suppresses travel and anomaly alerts',
};

/** Splits a list edited as text; blank entries are kept while typing and removed on blur. */
function splitLines(text: string): string[] {
  return text.split('\n');
}

function clean(list: string[] | undefined): string[] {
  return (list ?? []).map((s) => s.trim()).filter((s) => s !== '');
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const jsonData = options.jsonData ?? {};
  const secureJsonFields = options.secureJsonFields ?? {};
  const secureJsonData = options.secureJsonData ?? {};
  const authType: AuthType = jsonData.authType ?? 'apiToken';
  // The detector table is long: folded until opened, or open when a detector is configured.
  const [detectorsOpen, setDetectorsOpen] = useState(Object.keys(jsonData.detectors ?? {}).length > 0);

  const setJson = <K extends keyof OktaOptions>(key: K, value: OktaOptions[K]) => {
    const next = { ...jsonData, [key]: value };
    if (value === undefined || value === '') {
      delete next[key];
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  // Secrets go to secureJsonData only: Grafana encrypts them and never sends them back.
  const setSecret = (key: keyof OktaSecureOptions, value: string) => {
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: value } });
  };

  const resetSecret = (key: keyof OktaSecureOptions) => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secureJsonData, [key]: '' },
    });
  };

  const setIPList = (cat: IPListCategory, list: string[]) => {
    const lists = { ...(jsonData.ipLists ?? {}), [cat]: list };
    if (list.length === 0) {
      delete lists[cat];
    }
    setJson('ipLists', Object.keys(lists).length ? lists : undefined);
  };

  const setDetector = (id: string, patch: Partial<DetectorSettings>) => {
    const next: DetectorSettings = { ...(jsonData.detectors?.[id] ?? {}), ...patch };
    for (const k of Object.keys(next) as Array<keyof DetectorSettings>) {
      if (next[k] === undefined) {
        delete next[k];
      }
    }
    setJson('detectors', { ...(jsonData.detectors ?? {}), [id]: next });
  };

  const setParam = (d: DetectorInfo, param: ParamInfo, raw: string) => {
    const params = { ...(jsonData.detectors?.[d.id]?.params ?? {}) };
    const text = raw.trim();
    const n = param.kind === 'int' ? parseInt(text, 10) : parseFloat(text);
    if (text === '' || (param.kind !== 'duration' && !Number.isFinite(n))) {
      delete params[param.key];
    } else {
      params[param.key] = param.kind === 'duration' ? text : n;
    }
    const patch: Partial<DetectorSettings> = { params };
    if (Object.keys(params).length === 0) {
      patch.params = undefined;
    }
    setDetector(d.id, patch);
  };

  const orgErr = orgUrlError(jsonData.orgUrl);
  const keyIdErr = keyIdError(jsonData.keyId);
  const backfillErr = backfillError(jsonData.backfill);
  const pollErr = pollIntervalError(jsonData.pollInterval);
  const shareErr = rateLimitShareError(jsonData.rateLimitShare);

  return (
    <>
      <FieldSet label="Okta org">
        <Field
          label="Org URL"
          description="Your Okta domain, e.g. https://example.okta.com (plain http only to a loopback address)"
          invalid={Boolean(orgErr)}
          error={orgErr}
          required={!jsonData.demo}
        >
          <Input
            id="oktaguard-org-url"
            value={jsonData.orgUrl ?? ''}
            placeholder="https://example.okta.com"
            width={60}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('orgUrl', e.currentTarget.value)}
          />
        </Field>
        <Field
          label="Demo mode"
          description="Run a built-in simulated Okta org with attack traffic instead of connecting to a real org"
        >
          <InlineSwitch
            id="oktaguard-demo"
            value={Boolean(jsonData.demo)}
            onChange={(e: React.FormEvent<HTMLInputElement>) => setJson('demo', e.currentTarget.checked || undefined)}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Authentication">
        <Field label="Method">
          <RadioButtonGroup<AuthType>
            options={AUTH_OPTIONS}
            value={authType}
            onChange={(v) => {
              const next: OktaOptions = { ...jsonData, authType: v };
              if (v === 'oauth' && !next.scopes) {
                next.scopes = DEFAULT_OAUTH_SCOPES;
              }
              onOptionsChange({ ...options, jsonData: next });
            }}
          />
        </Field>
        {authType === 'apiToken' && (
          <Field label="API token" description="Stored encrypted; a token of a read-only administrator is enough">
            <SecretInput
              id="oktaguard-api-token"
              isConfigured={Boolean(secureJsonFields.apiToken)}
              value={secureJsonData.apiToken ?? ''}
              placeholder="00aBcD..."
              width={60}
              onReset={() => resetSecret('apiToken')}
              onChange={(e: ChangeEvent<HTMLInputElement>) => setSecret('apiToken', e.currentTarget.value)}
            />
          </Field>
        )}
        {authType === 'oauth' && (
          <>
            <Field label="Client ID" description="The OAuth 2.0 service app's client id">
              <Input
                id="oktaguard-client-id"
                value={jsonData.clientId ?? ''}
                width={60}
                onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('clientId', e.currentTarget.value)}
              />
            </Field>
            <Field
              label={
                <Label htmlFor="oktaguard-key-id" description="Optional: the kid of the app's public key">
                  <Stack gap={0.5} alignItems="center">
                    Key ID
                    <Tooltip
                      theme="info"
                      content="Needed when the service app has several public keys (e.g. during a key rotation): Okta picks the key by this kid in the JWT header. Copy it from the app's Public keys list; leave it empty when the app has one key."
                    >
                      <Icon name="info-circle" size="sm" tabIndex={0} />
                    </Tooltip>
                  </Stack>
                </Label>
              }
              invalid={Boolean(keyIdErr)}
              error={keyIdErr}
            >
              <Input
                id="oktaguard-key-id"
                value={jsonData.keyId ?? ''}
                width={60}
                onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('keyId', e.currentTarget.value.trim())}
              />
            </Field>
            <Field label="Scopes" description="Granted scopes, separated by spaces">
              <Input
                id="oktaguard-scopes"
                value={(jsonData.scopes ?? DEFAULT_OAUTH_SCOPES).join(' ')}
                width={60}
                onChange={(e: ChangeEvent<HTMLInputElement>) =>
                  setJson('scopes', e.currentTarget.value.split(/[\s,]+/))
                }
                onBlur={() => setJson('scopes', clean(jsonData.scopes ?? DEFAULT_OAUTH_SCOPES))}
              />
            </Field>
            <Field label="Private key" description="PEM private key (RSA) of the service app; stored encrypted">
              <SecretTextArea
                id="oktaguard-private-key"
                isConfigured={Boolean(secureJsonFields.privateKey)}
                value={secureJsonData.privateKey ?? ''}
                placeholder="-----BEGIN PRIVATE KEY-----"
                rows={6}
                cols={60}
                onReset={() => resetSecret('privateKey')}
                onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret('privateKey', e.currentTarget.value)}
              />
            </Field>
          </>
        )}
      </FieldSet>

      <FieldSet label="Ingestion">
        <Field
          label="Backfill"
          description="History read at the first connection (Go duration; default 168h, at most 2160h)"
          invalid={Boolean(backfillErr)}
          error={backfillErr}
        >
          <Input
            id="oktaguard-backfill"
            value={jsonData.backfill ?? ''}
            placeholder="168h"
            width={20}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('backfill', e.currentTarget.value.trim())}
          />
        </Field>
        <Field
          label="Poll interval"
          description="How often the System Log is polled (default 30s, between 5s and 1h)"
          invalid={Boolean(pollErr)}
          error={pollErr}
        >
          <Input
            id="oktaguard-poll-interval"
            value={jsonData.pollInterval ?? ''}
            placeholder="30s"
            width={20}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('pollInterval', e.currentTarget.value.trim())}
          />
        </Field>
        <Field
          label="Rate-limit share"
          description="Share of the org's System Log rate limit this data source may use (default 0.5)"
          invalid={Boolean(shareErr)}
          error={shareErr}
        >
          <Input
            id="oktaguard-rate-limit-share"
            type="number"
            step={0.05}
            min={0.05}
            max={1}
            value={jsonData.rateLimitShare ?? ''}
            placeholder="0.5"
            width={20}
            onChange={(e: ChangeEvent<HTMLInputElement>) => {
              const v = e.currentTarget.value;
              setJson('rateLimitShare', v === '' ? undefined : parseFloat(v));
            }}
          />
        </Field>
        <Field label="Storage path" description="Folder of the local event store (default: Grafana's data folder)">
          <Input
            id="oktaguard-storage-path"
            value={jsonData.storagePath ?? ''}
            placeholder="/var/lib/grafana/plugins-data/oktaguard"
            width={60}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('storagePath', e.currentTarget.value)}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Enrichment">
        <Field label="GeoIP City database" description="Path to a MaxMind-format City .mmdb on the Grafana server">
          <Input
            id="oktaguard-geoip-city"
            value={jsonData.geoipCityDB ?? ''}
            placeholder="/var/lib/grafana/geoip/GeoLite2-City.mmdb"
            width={60}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('geoipCityDB', e.currentTarget.value)}
          />
        </Field>
        <Field label="GeoIP ASN database" description="Path to a MaxMind-format ASN .mmdb on the Grafana server">
          <Input
            id="oktaguard-geoip-asn"
            value={jsonData.geoipAsnDB ?? ''}
            placeholder="/var/lib/grafana/geoip/GeoLite2-ASN.mmdb"
            width={60}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('geoipAsnDB', e.currentTarget.value)}
          />
        </Field>
        <Field
          label="GeoIP Anonymous-IP database"
          description="Path to a MaxMind-format Anonymous-IP .mmdb on the Grafana server (VPN, Tor, hosting and proxy flags)"
        >
          <Input
            id="oktaguard-geoip-anonymous"
            value={jsonData.geoipAnonymousDB ?? ''}
            placeholder="/var/lib/grafana/geoip/GeoIP2-Anonymous-IP.mmdb"
            width={60}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('geoipAnonymousDB', e.currentTarget.value)}
          />
        </Field>
        {IP_LIST_CATEGORIES.map((cat) => (
          <Field
            key={cat}
            label={`IP list: ${cat}`}
            description={`${IP_LIST_HELP[cat]}. One IP, CIDR or file path a line.`}
          >
            <TextArea
              id={`oktaguard-iplist-${cat}`}
              rows={3}
              cols={60}
              value={(jsonData.ipLists?.[cat] ?? []).join('\n')}
              onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setIPList(cat, splitLines(e.currentTarget.value))}
              onBlur={() => setIPList(cat, clean(jsonData.ipLists?.[cat]))}
            />
          </Field>
        ))}
      </FieldSet>

      <FieldSet label="Detectors">
        <Button
          type="button"
          variant="secondary"
          fill="text"
          icon={detectorsOpen ? 'angle-down' : 'angle-right'}
          aria-expanded={detectorsOpen}
          onClick={() => setDetectorsOpen(!detectorsOpen)}
        >
          {`Detectors (${DETECTORS.filter((d) => jsonData.detectors?.[d.id]?.enabled !== false).length} of ${DETECTORS.length} on)`}
        </Button>
        {detectorsOpen &&
          DETECTORS.map((d) => {
            const s = jsonData.detectors?.[d.id] ?? {};
            return (
              <InlineFieldRow key={d.id}>
                <InlineField label={d.title} labelWidth={40} tooltip={`${d.id} · default severity ${d.severity}`}>
                  <InlineSwitch
                    id={`oktaguard-detector-${d.id}`}
                    aria-label={`Enable ${d.id}`}
                    value={s.enabled !== false}
                    onChange={(e: React.FormEvent<HTMLInputElement>) =>
                      setDetector(d.id, { enabled: e.currentTarget.checked })
                    }
                  />
                </InlineField>
                <InlineField label="Sensitivity" disabled={s.enabled === false}>
                  <RadioButtonGroup<Sensitivity>
                    size="sm"
                    options={SENSITIVITY_OPTIONS}
                    value={s.sensitivity ?? 'medium'}
                    onChange={(v) => setDetector(d.id, { sensitivity: v === 'medium' ? undefined : v })}
                  />
                </InlineField>
                {d.params.map((t) => {
                  const err =
                    t.kind === 'duration' &&
                    typeof s.params?.[t.key] === 'string' &&
                    !isDuration(String(s.params?.[t.key]))
                      ? 'Go duration, e.g. 15m'
                      : undefined;
                  return (
                    <InlineField
                      key={t.key}
                      label={t.unit ? `${t.label} (${t.unit})` : t.label}
                      tooltip={t.description}
                      disabled={s.enabled === false}
                      invalid={Boolean(err)}
                      error={err}
                    >
                      <Input
                        id={`oktaguard-detector-${d.id}-${t.key}`}
                        aria-label={`${d.id} ${t.key}`}
                        type={t.kind === 'duration' ? 'text' : 'number'}
                        width={10}
                        placeholder={String(t.default)}
                        value={String(s.params?.[t.key] ?? '')}
                        onChange={(e: ChangeEvent<HTMLInputElement>) => setParam(d, t, e.currentTarget.value)}
                      />
                    </InlineField>
                  );
                })}
              </InlineFieldRow>
            );
          })}
      </FieldSet>

      <FieldSet label="Posture">
        <Field label="Profile" description="Baseline checks, or the DISA STIG profile">
          <RadioButtonGroup<PostureProfile>
            options={PROFILE_OPTIONS}
            value={jsonData.postureProfile ?? 'baseline'}
            onChange={(v) => setJson('postureProfile', v)}
          />
        </Field>
      </FieldSet>
    </>
  );
}
