/**
 * Explore and dashboard features beyond the query editor: "filter for / filter out value"
 * (modifyQuery), ad hoc filters, the logs volume supplementary query, log context and the variable
 * editor's query.
 */
import { DataQueryRequest, LogRowContextQueryDirection, LogRowModel, SupplementaryQueryType } from '@grafana/data';
import { of } from 'rxjs';

import { DataSource, LOGS_VOLUME_PREFIX } from './datasource';
import { CONTEXT_WINDOW_MS } from './logContext';
import { newDataSource } from './testutil/dataSource';
import { installTemplateSrv } from './testutil/templateSrv';
import { OktaQuery } from './types';
import { toVariableQuery, variableValues } from './variables';

const logsQuery: OktaQuery = {
  refId: 'A',
  queryType: 'activity',
  format: 'logs',
  eventType: 'user.session.',
  limit: 200,
};

describe('modifyQuery (Explore: filter for / filter out value)', () => {
  it('sets the clicked log label as the activity filter', () => {
    const out = newDataSource().modifyQuery(logsQuery, {
      type: 'ADD_FILTER',
      options: { key: 'actor', value: 'ann@example.com' },
    });
    expect(out).toEqual({ ...logsQuery, actor: 'ann@example.com' });
  });

  it('adds the clicked log label to the exclusions, once', () => {
    const ds = newDataSource();
    const out = ds.modifyQuery(logsQuery, {
      type: 'ADD_FILTER_OUT',
      options: { key: 'actor', value: 'x@example.com' },
    });
    expect(out).toEqual({ ...logsQuery, exclude: [{ key: 'actor', value: 'x@example.com' }] });
    const twice = ds.modifyQuery(out, { type: 'ADD_FILTER_OUT', options: { key: 'outcome', value: 'FAILURE' } });
    expect(twice.exclude).toEqual([
      { key: 'actor', value: 'x@example.com' },
      { key: 'outcome', value: 'FAILURE' },
    ]);
    expect(ds.modifyQuery(twice, { type: 'ADD_FILTER_OUT', options: { key: 'outcome', value: 'FAILURE' } })).toBe(
      twice
    );
    expect(ds.getSupportedQueryModifications()).toEqual(['ADD_FILTER', 'ADD_FILTER_OUT']);
  });

  it('filter for and filter out of the same value replace each other', () => {
    const ds = newDataSource();
    const out = ds.modifyQuery(
      { ...logsQuery, actor: 'ann@example.com' },
      { type: 'ADD_FILTER_OUT', options: { key: 'actor', value: 'ann@example.com' } }
    );
    expect(out.actor).toBeUndefined();
    expect(out.exclude).toEqual([{ key: 'actor', value: 'ann@example.com' }]);
    const back = ds.modifyQuery(out, { type: 'ADD_FILTER', options: { key: 'actor', value: 'ann@example.com' } });
    expect(back).toEqual({ ...logsQuery, actor: 'ann@example.com' });
  });

  it('ignores keys and query types that cannot filter', () => {
    const ds = newDataSource();
    expect(ds.modifyQuery(logsQuery, { type: 'ADD_FILTER', options: { key: 'level', value: 'info' } })).toBe(logsQuery);
    expect(ds.modifyQuery(logsQuery, { type: 'ADD_FILTER_OUT', options: { key: 'level', value: 'info' } })).toBe(
      logsQuery
    );
    const alerts: OktaQuery = { refId: 'B', queryType: 'alerts' };
    expect(ds.modifyQuery(alerts, { type: 'ADD_FILTER', options: { key: 'ip', value: '1.2.3.4' } })).toBe(alerts);
    expect(ds.modifyQuery(alerts, { type: 'ADD_FILTER_OUT', options: { key: 'actor', value: 'x' } })).toBe(alerts);
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

  it('apply "!=" filters as exclusions of activity queries and their logs volume only', () => {
    installTemplateSrv({});
    const ds = newDataSource();
    const filters = [
      { key: 'outcome', operator: '!=', value: 'SUCCESS' },
      { key: 'country', operator: '!=', value: 'Brazil' },
      { key: 'nope', operator: '!=', value: 'x' },
      { key: 'ip', operator: '=~', value: '10.*' },
    ];
    const want = [
      { key: 'outcome', value: 'SUCCESS' },
      { key: 'country', value: 'Brazil' },
    ];
    expect(ds.applyTemplateVariables(logsQuery, {}, filters).exclude).toEqual(want);
    const volume = ds.getSupplementaryQuery({ type: SupplementaryQueryType.LogsVolume }, logsQuery)!;
    expect(ds.applyTemplateVariables(volume, {}, filters).exclude).toEqual(want);
    const geo: OktaQuery = { refId: 'G', queryType: 'geo' };
    expect(ds.applyTemplateVariables(geo, {}, filters).exclude).toBeUndefined();
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
    const excluding = { ...logsQuery, exclude: [{ key: 'actor' as const, value: 'x' }] };
    expect(ds.getSupplementaryQuery({ type: SupplementaryQueryType.LogsVolume }, excluding)?.exclude).toEqual(
      excluding.exclude
    );
  });

  it('is not offered for tables or other query types', () => {
    const ds = newDataSource();
    const opts = { type: SupplementaryQueryType.LogsVolume };
    expect(ds.getSupplementaryQuery(opts, { ...logsQuery, format: 'table' })).toBeUndefined();
    expect(ds.getSupplementaryQuery(opts, { refId: 'B', queryType: 'alerts' })).toBeUndefined();
  });
});

describe('log context', () => {
  const row = (labels: Record<string, string>) =>
    ({ timeEpochMs: Date.UTC(2026, 0, 5, 12), labels, uid: 'A_1' }) as unknown as LogRowModel;

  function capture(ds: DataSource) {
    const sent: Array<DataQueryRequest<OktaQuery>> = [];
    jest.spyOn(ds, 'query').mockImplementation((r: DataQueryRequest<OktaQuery>) => {
      sent.push(r);
      return of({ data: [] });
    });
    return sent;
  }

  it('asks for the events of the session before the line, newest first', async () => {
    const ds = newDataSource();
    const sent = capture(ds);
    const r = row({ sessionId: 'idx123', actor: 'ann@example.com', eventType: 'user.session.start' });
    await ds.getLogRowContext(r, { direction: LogRowContextQueryDirection.Backward, limit: 20 });
    expect(sent).toHaveLength(1);
    expect(sent[0].targets).toEqual([
      {
        refId: 'log-context-before',
        queryType: 'activity',
        format: 'logs',
        sessionId: 'idx123',
        limit: 20,
        direction: 'backward',
      },
    ]);
    expect(sent[0].range.to.valueOf()).toBe(r.timeEpochMs);
    expect(sent[0].range.from.valueOf()).toBe(r.timeEpochMs - CONTEXT_WINDOW_MS);
  });

  it('asks for the events of the actor after a line without a session, oldest first', async () => {
    const ds = newDataSource();
    const sent = capture(ds);
    const r = row({ actor: 'ann@example.com' });
    await ds.getLogRowContext(r, { direction: LogRowContextQueryDirection.Forward, timeWindowMs: 3600000 });
    expect(sent[0].targets[0]).toMatchObject({ actor: 'ann@example.com', direction: 'forward', limit: 50 });
    expect(sent[0].targets[0].sessionId).toBeUndefined();
    expect(sent[0].range.from.valueOf()).toBe(r.timeEpochMs);
    expect(sent[0].range.to.valueOf()).toBe(r.timeEpochMs + 3600000);
    expect(await ds.getLogRowContextQuery(r, { direction: LogRowContextQueryDirection.Forward })).toMatchObject({
      queryType: 'activity',
      actor: 'ann@example.com',
      direction: 'forward',
    });
  });

  it('is empty for lines with neither a session nor an actor', async () => {
    const ds = newDataSource();
    const sent = capture(ds);
    const r = row({ eventType: 'system.import.done' });
    expect(await ds.getLogRowContext(r, {})).toEqual({ data: [] });
    expect(await ds.getLogRowContextQuery(r, {})).toBeNull();
    expect(sent).toHaveLength(0);
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
