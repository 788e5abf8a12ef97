import React, { useState } from 'react';

import { DataSourceSettings } from '@grafana/data';
import { fireEvent, render, screen, within } from '@testing-library/react';

import { DEFAULT_OAUTH_SCOPES } from '../constants';
import { OktaOptions, OktaSecureOptions } from '../types';
import { ConfigEditor } from './ConfigEditor';

type Settings = DataSourceSettings<OktaOptions, OktaSecureOptions>;

function settings(jsonData: OktaOptions = {}, secureJsonFields: Record<string, boolean> = {}): Settings {
  return {
    id: 1,
    uid: 'oktaguard',
    orgId: 1,
    name: 'Okta',
    type: 'oktaguard-okta-datasource',
    typeName: 'Okta (oktaguard)',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    readOnly: false,
    withCredentials: false,
    jsonData,
    secureJsonFields,
    secureJsonData: {},
  } as Settings;
}

/** Renders the editor as Grafana does (state kept by the parent) and records every change. */
function renderEditor(initial: Settings) {
  const changes: Settings[] = [];
  function Harness() {
    const [opts, setOpts] = useState(initial);
    return (
      <ConfigEditor
        options={opts}
        onOptionsChange={(o) => {
          changes.push(o);
          setOpts(o);
        }}
      />
    );
  }
  render(<Harness />);
  return { changes, last: () => changes[changes.length - 1] };
}

const TOKEN = '00SeCrEtToKeN-must-stay-secure';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END PRIVATE KEY-----';

describe('ConfigEditor secrets', () => {
  it('stores the API token in secureJsonData only', () => {
    const { changes, last } = renderEditor(settings({ orgUrl: 'https://example.okta.com' }));
    fireEvent.change(screen.getByLabelText(/^API token/, { selector: '#oktaguard-api-token' }), {
      target: { value: TOKEN },
    });
    expect(last().secureJsonData?.apiToken).toBe(TOKEN);
    for (const c of changes) {
      expect(JSON.stringify(c.jsonData)).not.toContain(TOKEN);
    }
    expect(last().jsonData.orgUrl).toBe('https://example.okta.com');
  });

  it('stores the OAuth private key in secureJsonData only, client id, key id and scopes in jsonData', () => {
    const { changes, last } = renderEditor(settings({ orgUrl: 'https://example.okta.com' }));
    fireEvent.click(screen.getByLabelText('OAuth service app'));
    expect(last().jsonData.authType).toBe('oauth');
    expect(last().jsonData.scopes).toEqual(DEFAULT_OAUTH_SCOPES);
    expect(screen.queryByLabelText(/^API token/, { selector: '#oktaguard-api-token' })).not.toBeInTheDocument();

    fireEvent.change(screen.getByLabelText(/^Client ID/), { target: { value: '0oa1clientid' } });
    fireEvent.change(screen.getByLabelText(/^Key ID/), { target: { value: ' kid-2 ' } });
    fireEvent.change(screen.getByLabelText(/^Private key/), { target: { value: PEM } });
    expect(last().secureJsonData?.privateKey).toBe(PEM);
    expect(last().jsonData.clientId).toBe('0oa1clientid');
    expect(last().jsonData.keyId).toBe('kid-2');
    for (const c of changes) {
      expect(JSON.stringify(c.jsonData)).not.toContain('secretkeymaterial');
      expect(c.jsonData).not.toHaveProperty('privateKey');
      expect(c.jsonData).not.toHaveProperty('apiToken');
    }
  });

  it('keeps the key id optional, with a tooltip, and flags spaces', () => {
    const { last } = renderEditor(settings({ orgUrl: 'https://example.okta.com', authType: 'oauth', keyId: 'k1' }));
    const keyId = screen.getByLabelText(/^Key ID/) as HTMLInputElement;
    expect(keyId.value).toBe('k1');
    // The info icon carrying the tooltip (the test double of the SVG drops its hover handlers).
    expect(within(keyId.labels![0]).getByTestId('info-circle')).toBeInTheDocument();
    fireEvent.change(keyId, { target: { value: 'k 2' } });
    expect(screen.getByText(/A key id has no spaces/)).toBeInTheDocument();
    fireEvent.change(keyId, { target: { value: '' } });
    expect(last().jsonData).not.toHaveProperty('keyId');
    expect(screen.queryByText(/A key id has no spaces/)).not.toBeInTheDocument();
  });

  it('shows a configured token as configured and resets it', () => {
    const { last } = renderEditor(settings({ orgUrl: 'https://example.okta.com' }, { apiToken: true }));
    const input = screen.getByLabelText(/^API token/, { selector: '#oktaguard-api-token' }) as HTMLInputElement;
    expect(input).toBeDisabled();
    expect(input.value).toBe('configured');
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(last().secureJsonFields.apiToken).toBe(false);
    expect(last().secureJsonData?.apiToken).toBe('');
    expect(screen.getByLabelText(/^API token/, { selector: '#oktaguard-api-token' })).not.toBeDisabled();
  });

  it('resets a configured private key', () => {
    const { last } = renderEditor(settings({ authType: 'oauth', clientId: 'x' }, { privateKey: true }));
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(last().secureJsonFields.privateKey).toBe(false);
    expect(last().secureJsonData?.privateKey).toBe('');
  });
});

describe('ConfigEditor settings', () => {
  it('validates the org URL: https, or http only to loopback', () => {
    renderEditor(settings());
    const url = screen.getByLabelText(/Org URL/);
    fireEvent.change(url, { target: { value: 'http://example.okta.com' } });
    expect(screen.getByText(/Plain http is only allowed to a loopback address/)).toBeInTheDocument();
    fireEvent.change(url, { target: { value: 'http://127.0.0.1:18080' } });
    expect(screen.queryByText(/Plain http is only allowed/)).not.toBeInTheDocument();
    fireEvent.change(url, { target: { value: 'https://example.okta.com' } });
    expect(screen.queryByText(/Plain http/)).not.toBeInTheDocument();
  });

  it('writes ingestion settings with their contract names and flags bad values', () => {
    const { last } = renderEditor(settings());
    fireEvent.change(screen.getByLabelText(/^Backfill/), { target: { value: '72h' } });
    fireEvent.change(screen.getByLabelText(/^Poll interval/), { target: { value: '1m' } });
    fireEvent.change(screen.getByLabelText(/^Rate-limit share/), { target: { value: '0.25' } });
    fireEvent.change(screen.getByLabelText(/^Storage path/), { target: { value: '/data/okta' } });
    expect(last().jsonData).toMatchObject({
      backfill: '72h',
      pollInterval: '1m',
      rateLimitShare: 0.25,
      storagePath: '/data/okta',
    });
    fireEvent.change(screen.getByLabelText(/^Backfill/), { target: { value: '3000h' } });
    expect(screen.getByText(/Okta keeps 90 days/)).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText(/^Poll interval/), { target: { value: '1s' } });
    expect(screen.getByText('Use a value between 5s and 1h')).toBeInTheDocument();
  });

  it('keeps IP lists as arrays per category and GeoIP paths', () => {
    const { last } = renderEditor(settings());
    const trusted = screen.getByLabelText(/^IP list: trusted/);
    fireEvent.change(trusted, { target: { value: '10.0.0.0/8\n\n 192.0.2.10 \n/etc/oktaguard/vpn.txt' } });
    fireEvent.blur(trusted);
    expect(last().jsonData.ipLists).toEqual({ trusted: ['10.0.0.0/8', '192.0.2.10', '/etc/oktaguard/vpn.txt'] });
    fireEvent.change(screen.getByLabelText(/^GeoIP City database/), { target: { value: '/geo/City.mmdb' } });
    fireEvent.change(screen.getByLabelText(/^GeoIP ASN database/), { target: { value: '/geo/ASN.mmdb' } });
    fireEvent.change(screen.getByLabelText(/^GeoIP Anonymous-IP database/), { target: { value: '/geo/Anon.mmdb' } });
    expect(last().jsonData).toMatchObject({
      geoipCityDB: '/geo/City.mmdb',
      geoipAsnDB: '/geo/ASN.mmdb',
      geoipAnonymousDB: '/geo/Anon.mmdb',
    });
    fireEvent.change(trusted, { target: { value: '' } });
    fireEvent.blur(trusted);
    expect(last().jsonData).not.toHaveProperty('ipLists');
  });

  it('toggles detectors and sets their parameters', () => {
    const { last } = renderEditor(settings());
    expect(screen.queryByLabelText('Enable mfa_fatigue')).not.toBeInTheDocument();
    fireEvent.click(screen.getByText('Detectors (11 of 11 on)'));
    expect(screen.getAllByRole('switch', { name: /^Enable / })).toHaveLength(11);
    fireEvent.click(screen.getByLabelText('Enable mfa_fatigue'));
    expect(last().jsonData.detectors?.mfa_fatigue).toEqual({ enabled: false });
    expect(screen.getByText('Detectors (10 of 11 on)')).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText('impossible_travel speedKmh'), { target: { value: '1000' } });
    fireEvent.change(screen.getByLabelText('impossible_travel anchorWindow'), { target: { value: '12h' } });
    expect(last().jsonData.detectors?.impossible_travel).toEqual({ params: { speedKmh: 1000, anchorWindow: '12h' } });
    fireEvent.change(screen.getByLabelText('impossible_travel speedKmh'), { target: { value: '' } });
    expect(last().jsonData.detectors?.impossible_travel).toEqual({ params: { anchorWindow: '12h' } });
    fireEvent.change(screen.getByLabelText('impossible_travel anchorWindow'), { target: { value: 'soon' } });
    expect(screen.getByText('Go duration, e.g. 15m')).toBeInTheDocument();
  });

  it('shows configured detectors unfolded with their values', () => {
    renderEditor(settings({ detectors: { password_spray: { enabled: false, params: { minUsers: 25 } } } }));
    expect(screen.getByText('Detectors (10 of 11 on)')).toBeInTheDocument();
    expect(screen.getByLabelText('Enable password_spray')).not.toBeChecked();
    expect(screen.getByLabelText('Enable mfa_fatigue')).toBeChecked();
    expect(screen.getByLabelText('password_spray minUsers')).toHaveValue(25);
  });

  it('sets the posture profile', () => {
    const { last } = renderEditor(settings());
    fireEvent.click(screen.getByLabelText('DISA STIG'));
    expect(last().jsonData.postureProfile).toBe('stig');
  });

  it('turns demo mode on and off', () => {
    const { last } = renderEditor(settings());
    fireEvent.click(screen.getByLabelText(/^Demo mode/));
    expect(last().jsonData.demo).toBe(true);
    fireEvent.click(screen.getByLabelText(/^Demo mode/));
    expect(last().jsonData).not.toHaveProperty('demo');
  });
});
