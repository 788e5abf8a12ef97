/**
 * Explore and dashboard features beyond the query editor: "filter for value" (modifyQuery), ad hoc
 * filters, the logs volume supplementary query and the variable editor's query.
 */
import { DataSourceInstanceSettings, SupplementaryQueryType } from '@grafana/data';

import { DataSource, LOGS_VOLUME_PREFIX } from './datasource';
import { installTemplateSrv } from './testutil/templateSrv';
import { OktaOptions, OktaQuery } from './types';
import { toVariableQuery, variableValues } from './variables';

function newDataSource(): DataSource {
  const settings = {
    id: 1,
    uid: 'oktaguard',
    type: 'oktaguard-okta-datasource',
    name: 'Okta',
    access: 'proxy',
    readOnly: false,
    jsonData: { orgUrl: 'https://example.okta.com' },
    meta: { id: 'oktaguard-okta-datasource' },
  } as unknown as DataSourceInstanceSettings<OktaOptions>;
  return new DataSource(settings);
}

const logsQuery: OktaQuery = {
  refId: 'A',
  queryType: 'activity',
  format: 'logs',
  eventType: 'user.session.',
  limit: 200,
};

describe('modifyQuery (Explore: filter for value)', () => {
  it('sets the clicked log label as the activity filter', () => {
    const out = newDataSource().modifyQuery(logsQuery, {
      type: 'ADD_FILTER',
      options: { key: 'actor', value: 'ann@example.com' },
    });
    expect(out).toEqual({ ...logsQuery, actor: 'ann@example.com' });
  });

  it('ignores keys the query type does not filter on, and filter out', () => {
    const ds = newDataSource();
    expect(ds.modifyQuery(logsQuery, { type: 'ADD_FILTER', options: { key: 'level', value: 'info' } })).toBe(logsQuery);
    const alerts: OktaQuery = { refId: 'B', queryType: 'alerts' };
    expect(ds.modifyQuery(alerts, { type: 'ADD_FILTER', options: { key: 'ip', value: '1.2.3.4' } })).toBe(alerts);
    expect(ds.modifyQuery(logsQuery, { type: 'ADD_FILTER_OUT', options: { key: 'actor', value: 'x' } })).toBe(
      logsQuery
    );
    expect(ds.getSupportedQueryModifications()).toEqual(['ADD_FILTER']);
  });
});

describe('ad hoc filters', () => {
  it('apply "=" filters on log labels to the query types that honour them', () => {
    installTemplateSrv({});
    const ds = newDataSource();
    const filters = [
      { key: 'country', operator: '=', value: 'Brazil' },
      { key: 'outcome', operator: '!=', value: 'SUCCESS' },
      { key: 'nope', operator: '=', value: 'x' },
    ];
    expect(ds.applyTemplateVariables(logsQuery, {}, filters)).toMatchObject({ country: 'Brazil' });
    expect(ds.applyTemplateVariables(logsQuery, {}, filters).outcome).toBeUndefined();
    const users: OktaQuery = { refId: 'U', queryType: 'users' };
    expect(ds.applyTemplateVariables(users, {}, filters).country).toBeUndefined();
  });

  it('offers the log labels as keys', async () => {
    const keys = (await newDataSource().getTagKeys()).map((k) => k.text);
    expect(keys).toEqual(['eventType', 'actor', 'outcome', 'ip', 'country', 'sessionId']);
  });
});

describe('logs volume', () => {
  it('is a logs_volume query with the activity filters of a logs query', () => {
    const ds = newDataSource();
    expect(ds.getSupportedSupplementaryQueryTypes()).toEqual([SupplementaryQueryType.LogsVolume]);
    const q = ds.getSupplementaryQuery({ type: SupplementaryQueryType.LogsVolume }, logsQuery);
    expect(q).toEqual({ refId: LOGS_VOLUME_PREFIX + 'A', queryType: 'logs_volume', eventType: 'user.session.' });
    expect(ds.filterQuery(q!)).toBe(true);
  });

  it('is not offered for tables or other query types', () => {
    const ds = newDataSource();
    const opts = { type: SupplementaryQueryType.LogsVolume };
    expect(ds.getSupplementaryQuery(opts, { ...logsQuery, format: 'table' })).toBeUndefined();
    expect(ds.getSupplementaryQuery(opts, { refId: 'B', queryType: 'alerts' })).toBeUndefined();
  });
});

describe('variable queries', () => {
  it('read the legacy text form and the editor object', () => {
    expect(toVariableQuery('actors:ann')).toMatchObject({ kind: 'actors', arg: 'ann' });
    expect(toVariableQuery({ query: 'event-types(user.)' })).toMatchObject({ kind: 'event-types', arg: 'user.' });
    const q = { refId: 'V', kind: 'detectors' as const, display: 'title' as const };
    expect(toVariableQuery(q)).toBe(q);
  });

  it('list detectors with the id as value and the chosen display text', async () => {
    const ds = newDataSource();
    jest.spyOn(ds, 'getResource').mockResolvedValue([{ id: 'mfa_fatigue', title: 'MFA fatigue' }]);
    expect(await variableValues(ds, { refId: 'V', kind: 'detectors', display: 'title' })).toEqual([
      { value: 'mfa_fatigue', text: 'MFA fatigue' },
    ]);
    expect(await variableValues(ds, { refId: 'V', kind: 'detectors' })).toEqual([
      { value: 'mfa_fatigue', text: 'mfa_fatigue' },
    ]);
  });
});
