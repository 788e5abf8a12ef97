import React, { useState } from 'react';

import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';

import type { DataSource } from '../datasource';
import { installTemplateSrv } from '../testutil/templateSrv';
import { OktaQuery, QUERY_FIELDS, QueryType } from '../types';
import { changeQueryType, QueryEditor } from './QueryEditor';

function fakeDataSource() {
  return {
    getActors: jest.fn(async (q: string) =>
      ['alice@example.com', 'bob@example.com'].filter((a) => a.includes(q)).map((a) => ({ value: a, label: a }))
    ),
    getEventTypes: jest.fn(async (prefix: string) =>
      ['user.session.start', 'user.account.lock']
        .filter((t) => t.startsWith(prefix))
        .map((t) => ({ value: t, label: t }))
    ),
    getDetectors: jest.fn(async () => [
      { value: 'impossible_travel', label: 'impossible_travel' },
      { value: 'password_spray', label: 'password_spray' },
    ]),
  };
}

async function renderEditor(initial: OktaQuery) {
  const ds = fakeDataSource();
  const changes: OktaQuery[] = [];
  const onRunQuery = jest.fn();
  function Harness() {
    const [query, setQuery] = useState(initial);
    return (
      <QueryEditor
        query={query}
        datasource={ds as unknown as DataSource}
        onRunQuery={onRunQuery}
        onChange={(q) => {
          changes.push(q);
          setQuery(q);
        }}
      />
    );
  }
  // let the pickers' initial resource loads settle inside act()
  await act(async () => {
    render(<Harness />);
  });
  return { ds, onRunQuery, last: () => changes[changes.length - 1], changes };
}

/** Opens a select and clicks one of its options. */
async function pick(label: string | RegExp, option: string) {
  const input = screen.getByLabelText(label);
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  const menu = await screen.findByLabelText('Select options menu');
  const item = await within(menu).findByText(option);
  await act(async () => {
    fireEvent.click(item);
  });
}

/** Types a search into an async select, then clicks the option that appears. */
async function search(label: string | RegExp, text: string, option: string) {
  const input = screen.getByLabelText(label);
  fireEvent.change(input, { target: { value: text } });
  const item = await screen.findByText(option);
  await act(async () => {
    fireEvent.click(item);
  });
}

const LABELS: Record<string, string> = {
  actor: 'Actor',
  eventType: 'Event type',
  outcome: 'Outcome',
  ip: 'IP',
  country: 'Country',
  sessionId: 'Session',
  text: 'Text',
  limit: 'Limit',
  detector: 'Detector',
  severity: 'Severity',
  groupBy: 'Group by',
  interval: 'Interval',
  profile: 'Profile',
  status: 'Status',
  category: 'Category',
  check: 'Check',
  drift: 'Drift',
};

function expectOnlyFields(visible: string[]) {
  for (const [field, label] of Object.entries(LABELS)) {
    if (visible.includes(field)) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    } else {
      expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
    }
  }
}

beforeEach(() => {
  installTemplateSrv({}, ['actor', 'detector']);
});

describe('QueryEditor', () => {
  it('activity: renders its filters and updates the query', async () => {
    const { ds, last, onRunQuery } = await renderEditor({ refId: 'A', queryType: 'activity' });
    expectOnlyFields(['actor', 'eventType', 'outcome', 'ip', 'country', 'sessionId', 'text', 'limit']);

    fireEvent.change(screen.getByLabelText('IP'), { target: { value: '203.0.113.7' } });
    fireEvent.change(screen.getByLabelText('Country'), { target: { value: 'France' } });
    fireEvent.change(screen.getByLabelText('Session'), { target: { value: 'idx123' } });
    fireEvent.change(screen.getByLabelText('Text'), { target: { value: 'password' } });
    fireEvent.change(screen.getByLabelText('Limit'), { target: { value: '500' } });
    fireEvent.blur(screen.getByLabelText('Limit'));
    expect(onRunQuery).toHaveBeenCalled();
    await search('Actor', 'ali', 'alice@example.com');
    expect(ds.getActors).toHaveBeenCalledWith('ali');
    await search('Event type', 'user.s', 'user.session.start');
    expect(ds.getEventTypes).toHaveBeenCalledWith('user.s');
    await pick('Outcome', 'FAILURE');
    fireEvent.click(screen.getByLabelText('Logs'));

    expect(last()).toEqual({
      refId: 'A',
      queryType: 'activity',
      ip: '203.0.113.7',
      country: 'France',
      sessionId: 'idx123',
      text: 'password',
      limit: 500,
      actor: 'alice@example.com',
      eventType: 'user.session.start',
      outcome: 'FAILURE',
      format: 'logs',
    });
  });

  it('activity: clearing a filter removes it from the model', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'activity', ip: '198.51.100.1' });
    fireEvent.change(screen.getByLabelText('IP'), { target: { value: '' } });
    expect(last()).not.toHaveProperty('ip');
  });

  it('activity: shows the filter-out exclusions and removes one', async () => {
    const { last, onRunQuery } = await renderEditor({
      refId: 'A',
      queryType: 'activity',
      format: 'logs',
      exclude: [
        { key: 'actor', value: 'x@example.com' },
        { key: 'outcome', value: 'FAILURE' },
      ],
    });
    expect(screen.getByText('actor != x@example.com')).toBeInTheDocument();
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Remove filter out outcome FAILURE'));
    });
    expect(last().exclude).toEqual([{ key: 'actor', value: 'x@example.com' }]);
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Remove filter out actor x@example.com'));
    });
    expect(last().exclude).toBeUndefined();
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('alerts: detector from the resource, severities as a list, actor and limit', async () => {
    const { ds, last } = await renderEditor({ refId: 'A', queryType: 'alerts' });
    expectOnlyFields(['detector', 'severity', 'actor', 'status', 'limit']);
    await waitFor(() => expect(ds.getDetectors).toHaveBeenCalled());
    await pick('Detector', 'password_spray');
    await pick('Severity', 'high');
    await pick('Severity', 'critical');
    expect(last()).toMatchObject({ queryType: 'alerts', detector: 'password_spray', severity: 'high,critical' });
  });

  it('alerts: offers template variables in pickers', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'alerts' });
    await pick('Detector', '$detector');
    expect(last().detector).toBe('$detector');
  });

  it('timeseries: source, group by, interval and the filters of each source', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'timeseries', eventType: 'user.session.start' });
    expectOnlyFields(['groupBy', 'interval', 'actor', 'eventType', 'outcome']);
    await pick('Group by', 'Outcome');
    fireEvent.change(screen.getByLabelText('Interval'), { target: { value: '5m' } });
    expect(last()).toMatchObject({ groupBy: 'outcome', interval: '5m', eventType: 'user.session.start' });

    await act(async () => {
      fireEvent.click(screen.getByLabelText('Alerts'));
    });
    // events-only filters and grouping are dropped when switching to alerts
    expect(last()).toMatchObject({ queryType: 'timeseries', source: 'alerts', interval: '5m' });
    expect(last()).not.toHaveProperty('eventType');
    expect(last()).not.toHaveProperty('groupBy');
    expectOnlyFields(['groupBy', 'interval', 'actor', 'detector', 'severity', 'status']);
    await pick('Group by', 'Detector');
    expect(last().groupBy).toBe('detector');
  });

  it('geo: actor, event type, outcome and limit', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'geo' });
    expectOnlyFields(['actor', 'eventType', 'outcome', 'limit']);
    await pick('Outcome', 'SUCCESS');
    expect(last()).toEqual({ refId: 'A', queryType: 'geo', outcome: 'SUCCESS' });
  });

  it('posture: profile, status and category', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'posture' });
    expectOnlyFields(['profile', 'status', 'category']);
    await pick('Profile', 'DISA STIG');
    await pick('Status', 'fail');
    fireEvent.change(screen.getByLabelText('Category'), { target: { value: 'Password' } });
    expect(last()).toEqual({ refId: 'A', queryType: 'posture', profile: 'stig', status: 'fail', category: 'Password' });
  });

  it('posture_history: profile, check and drift', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'posture_history' });
    expectOnlyFields(['profile', 'check', 'drift']);
    fireEvent.change(screen.getByLabelText('Check'), { target: { value: 'okta.password.min_length' } });
    expect(last()).toEqual({ refId: 'A', queryType: 'posture_history', check: 'okta.password.min_length' });
    fireEvent.click(screen.getByLabelText('Drift'));
    expect(last()).toEqual({
      refId: 'A',
      queryType: 'posture_history',
      check: 'okta.password.min_length',
      drift: true,
    });
    fireEvent.click(screen.getByLabelText('Drift'));
    expect(last()).toEqual({ refId: 'A', queryType: 'posture_history', check: 'okta.password.min_length' });
  });

  it('users: actor search and limit', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'users' });
    expect(screen.getByLabelText('Search')).toBeInTheDocument();
    expect(screen.getByLabelText('Limit')).toBeInTheDocument();
    expect(screen.queryByLabelText('Detector')).not.toBeInTheDocument();
    await search('Search', 'bob', 'bob@example.com');
    expect(last()).toEqual({ refId: 'A', queryType: 'users', actor: 'bob@example.com' });
  });

  it('alerts: the triage status filter takes a list or all', async () => {
    const { last } = await renderEditor({ refId: 'A', queryType: 'alerts' });
    await pick('Status', 'resolved');
    expect(last()).toMatchObject({ queryType: 'alerts', status: 'resolved' });
  });

  it('exceptions, alert history and user: their own fields only', async () => {
    const ex = await renderEditor({ refId: 'A', queryType: 'exceptions' });
    expectOnlyFields(['limit']);
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Include inactive'));
    });
    expect(ex.last()).toMatchObject({ queryType: 'exceptions', all: true });
    cleanup();
    await renderEditor({ refId: 'A', queryType: 'alert_history' });
    expectOnlyFields(['status', 'limit']);
    cleanup();
    const u = await renderEditor({ refId: 'A', queryType: 'user' });
    expect(screen.getByLabelText('User')).toBeInTheDocument();
    expect(screen.getByLabelText('View')).toBeInTheDocument();
    await pick('View', 'Sessions');
    expect(u.last()).toMatchObject({ queryType: 'user', view: 'sessions' });
  });

  it('switching the query type keeps only the fields the new type understands', async () => {
    const { last, onRunQuery } = await renderEditor({
      refId: 'A',
      queryType: 'activity',
      actor: 'alice@example.com',
      eventType: 'user.session.start',
      ip: '203.0.113.7',
      format: 'logs',
    });
    await pick('Query type', 'Alerts');
    expect(last()).toEqual({ refId: 'A', queryType: 'alerts', actor: 'alice@example.com' });
    expect(onRunQuery).toHaveBeenCalled();
    expectOnlyFields(['detector', 'severity', 'actor', 'status', 'limit']);
  });
});

describe('changeQueryType', () => {
  it('keeps exactly the contract fields of each type', () => {
    const everything: OktaQuery = {
      refId: 'A',
      queryType: 'activity',
      actor: 'a',
      eventType: 'e',
      outcome: 'SUCCESS',
      ip: 'i',
      country: 'c',
      text: 't',
      sessionId: 's',
      limit: 5,
      format: 'logs',
      detector: 'd',
      severity: 'high',
      source: 'alerts',
      groupBy: 'severity',
      interval: '1m',
      profile: 'stig',
      status: 'fail',
      category: 'x',
      check: 'y',
      drift: true,
      all: true,
      view: 'clients',
      exclude: [{ key: 'ip', value: '10.0.0.1' }],
    };
    for (const t of Object.keys(QUERY_FIELDS) as QueryType[]) {
      const next = changeQueryType(everything, t);
      expect(Object.keys(next).sort()).toEqual(['queryType', 'refId', ...QUERY_FIELDS[t]].sort());
      expect(next.queryType).toBe(t);
    }
  });
});
