import { FieldType, toDataFrame } from '@grafana/data';
import { lastValueFrom } from 'rxjs';

import { ALL_VALUE } from './datasource';
import { parseVariableText } from './variables';
import { newDataSource } from './testutil/dataSource';
import { installTemplateSrv } from './testutil/templateSrv';
import { DEFAULT_QUERY, OktaQuery, STRING_FILTERS } from './types';

describe('applyTemplateVariables', () => {
  it('interpolates every string filter of the query model', () => {
    const values: Record<string, string> = {};
    const query: OktaQuery = { refId: 'A', queryType: 'activity' };
    for (const key of STRING_FILTERS) {
      values[`v_${key}`] = `value-of-${key}`;
      (query as unknown as Record<string, string>)[key] = `x-$v_${key}`;
    }
    installTemplateSrv(values);
    const out = newDataSource().applyTemplateVariables(query, {});
    for (const key of STRING_FILTERS) {
      expect(out[key]).toBe(`x-value-of-${key}`);
    }
    expect(out.refId).toBe('A');
    expect(out.queryType).toBe('activity');
  });

  it('uses scoped variables before dashboard variables', () => {
    installTemplateSrv({ actor: 'dashboard@example.com' });
    const out = newDataSource().applyTemplateVariables(
      { refId: 'A', queryType: 'alerts', actor: '${actor}' },
      { actor: { text: 'row', value: 'row@example.com' } }
    );
    expect(out.actor).toBe('row@example.com');
  });

  it('joins multi-value variables with commas (severity list)', () => {
    installTemplateSrv({ sev: ['high', 'critical'] });
    const out = newDataSource().applyTemplateVariables({ refId: 'A', queryType: 'alerts', severity: '$sev' }, {});
    expect(out.severity).toBe('high,critical');
  });

  it('drops a filter whose variable is All or empty', () => {
    installTemplateSrv({ detector: ALL_VALUE, actor: '' });
    const out = newDataSource().applyTemplateVariables(
      { refId: 'A', queryType: 'alerts', detector: '$detector', actor: '$actor', severity: 'high' },
      {}
    );
    expect(out).not.toHaveProperty('detector');
    expect(out).not.toHaveProperty('actor');
    expect(out.severity).toBe('high');
  });

  it('keeps literal values and leaves non-string fields alone', () => {
    installTemplateSrv({});
    const q: OktaQuery = { refId: 'B', queryType: 'activity', actor: 'alice@example.com', limit: 50, format: 'logs' };
    expect(newDataSource().applyTemplateVariables(q, {})).toEqual(q);
  });

  it('resolves a templated limit and caps it at the maximum', () => {
    installTemplateSrv({ n: '250', huge: '999999', bad: 'abc' });
    const ds = newDataSource();
    const withLimit = (l: string) =>
      ds.applyTemplateVariables({ refId: 'A', queryType: 'users', limit: l as unknown as number }, {}).limit;
    expect(withLimit('$n')).toBe(250);
    expect(withLimit('$huge')).toBe(50000);
    expect(withLimit('$bad')).toBeUndefined();
  });
});

describe('default query and filtering', () => {
  it('defaults to an activity table with the default limit', () => {
    const q = newDataSource().getDefaultQuery('explore' as never);
    expect(q).toEqual(DEFAULT_QUERY);
    expect(q.queryType).toBe('activity');
    expect(q.limit).toBe(1000);
    expect(q.format).toBe('table');
  });

  it('sends only visible queries of a known type', () => {
    const ds = newDataSource();
    expect(ds.filterQuery({ refId: 'A', queryType: 'timeseries' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'posture_history' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'timeseries', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'nope' as never })).toBe(false);
  });
});

describe('variable queries', () => {
  it('parses the variable query syntax', () => {
    expect(parseVariableText('detectors')).toEqual({ kind: 'detectors', arg: '' });
    expect(parseVariableText(' actors ')).toEqual({ kind: 'actors', arg: '' });
    expect(parseVariableText('actors:ali')).toEqual({ kind: 'actors', arg: 'ali' });
    expect(parseVariableText('event-types(user.session.)')).toEqual({ kind: 'event-types', arg: 'user.session.' });
    expect(parseVariableText('users')).toBeUndefined();
    expect(parseVariableText('')).toBeUndefined();
  });

  it('lists detectors, actors and event types from the resources', async () => {
    installTemplateSrv({ who: 'bob' });
    const ds = newDataSource();
    const getResource = jest.spyOn(ds, 'getResource').mockImplementation(async (path: string, params?: unknown) => {
      switch (path) {
        case 'detectors':
          return [
            { id: 'impossible_travel', title: 'Impossible travel', severity: 'high' },
            { id: 'password_spray', title: 'Password spray', severity: 'high' },
          ];
        case 'actors':
          return { actors: [{ actor: 'bob@example.com', count: 3 }] };
        case 'event-types':
          return ['user.session.start', 'user.session.end'];
      }
      throw new Error(`unexpected resource ${path} ${JSON.stringify(params)}`);
    });

    expect(await ds.metricFindQuery('detectors')).toEqual([
      { text: 'impossible_travel', value: 'impossible_travel' },
      { text: 'password_spray', value: 'password_spray' },
    ]);
    expect(await ds.metricFindQuery('actors:$who')).toEqual([{ text: 'bob@example.com', value: 'bob@example.com' }]);
    expect(getResource).toHaveBeenLastCalledWith('actors', { q: 'bob' });
    expect(await ds.metricFindQuery({ query: 'event-types:user.session.' })).toHaveLength(2);
    expect(getResource).toHaveBeenLastCalledWith('event-types', { prefix: 'user.session.' });
  });

  it('rejects an unknown variable query with a clear error', async () => {
    installTemplateSrv({});
    await expect(newDataSource().metricFindQuery('countries')).rejects.toThrow(/unknown variable query "countries"/);
  });
});

describe('annotations', () => {
  it('defaults an annotation query to alerts', () => {
    const ds = newDataSource();
    const prepared = ds.annotations!.prepareAnnotation!({
      name: 'Detections',
      enable: true,
      iconColor: 'red',
    } as never);
    expect(prepared.target).toMatchObject({ queryType: 'alerts', refId: 'Anno' });
    const kept = ds.annotations!.prepareAnnotation!({
      name: 'Drift',
      enable: true,
      iconColor: 'red',
      target: { refId: 'X', queryType: 'posture_history' },
    } as never);
    expect(kept.target).toMatchObject({ queryType: 'posture_history', refId: 'X' });
  });

  it('turns alert rows into annotation events', async () => {
    const frame = toDataFrame({
      fields: [
        { name: 'time', type: FieldType.time, values: [2000, 1000] },
        { name: 'detector', type: FieldType.string, values: ['mfa_fatigue', 'impossible_travel'] },
        { name: 'severity', type: FieldType.string, values: ['critical', 'high'] },
        { name: 'actor', type: FieldType.string, values: ['bob@example.com', 'alice@example.com'] },
        { name: 'title', type: FieldType.string, values: ['MFA fatigue', 'Impossible travel'] },
        { name: 'summary', type: FieldType.string, values: ['7 pushes denied', 'Paris → Sydney in 1h'] },
      ],
    });
    const ds = newDataSource();
    const events = await lastValueFrom(ds.annotations!.processEvents!({} as never, [frame]));
    expect(events).toHaveLength(2);
    expect(events![0]).toMatchObject({
      time: 1000,
      title: 'Impossible travel',
      text: 'Impossible travel\nParis → Sydney in 1h',
      tags: ['impossible_travel', 'high', 'alice@example.com'],
    });
    expect(events![1].tags).toContain('critical');
  });

  it('marks posture drift where the score drops or a check leaves pass', async () => {
    const frame = toDataFrame({
      fields: [
        { name: 'time', type: FieldType.time, values: [1000, 2000, 3000, 4000] },
        { name: 'score', type: FieldType.number, values: [90, 90, 80, 85] },
        { name: 'okta.password.min_length', type: FieldType.string, values: ['pass', 'pass', 'fail', 'pass'] },
      ],
    });
    const events = await lastValueFrom(newDataSource().annotations!.processEvents!({} as never, [frame]));
    expect(events).toHaveLength(2);
    expect(events!.map((e) => e.time)).toEqual([3000, 3000]);
    expect(events!.map((e) => e.text).sort()).toEqual([
      'okta.password.min_length: pass → fail',
      'score dropped from 90 to 80',
    ]);
  });
});
