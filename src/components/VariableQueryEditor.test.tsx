import { DataQueryRequest } from '@grafana/data';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import React, { useState } from 'react';
import { lastValueFrom } from 'rxjs';

import { newDataSource } from '../testutil/dataSource';
import { installTemplateSrv } from '../testutil/templateSrv';
import { OktaVariableQuery, OktaVariableSupport } from '../variables';
import { VariableQueryEditor } from './VariableQueryEditor';

/** Renders the editor as Grafana's variable page does: the saved query in, each change out. */
function renderEditor(saved: unknown) {
  const changes: OktaVariableQuery[] = [];
  function Harness() {
    const [query, setQuery] = useState(saved as OktaVariableQuery);
    return (
      <VariableQueryEditor
        query={query}
        datasource={newDataSource()}
        onRunQuery={() => undefined}
        onChange={(q) => {
          changes.push(q as OktaVariableQuery);
          setQuery(q as OktaVariableQuery);
        }}
      />
    );
  }
  render(<Harness />);
  return { changes, last: () => changes[changes.length - 1] };
}

async function pick(label: string, option: string) {
  fireEvent.keyDown(screen.getByLabelText(label), { key: 'ArrowDown' });
  const menu = await screen.findByLabelText('Select options menu');
  const item = await within(menu).findByText(option);
  await act(async () => {
    fireEvent.click(item);
  });
}

beforeEach(() => {
  installTemplateSrv({ who: 'ann' });
});

describe('VariableQueryEditor', () => {
  it('opens a legacy text query (actors:<search>) with its kind and search, without a display field', () => {
    renderEditor('actors:ali');
    expect(screen.getByText('Actors')).toBeInTheDocument();
    expect(screen.getByLabelText('search')).toHaveValue('ali');
    expect(screen.queryByLabelText('Display field')).not.toBeInTheDocument();
  });

  it('event types: the prefix is the argument', () => {
    const ed = renderEditor({ refId: 'V', kind: 'event-types', arg: '' });
    fireEvent.change(screen.getByLabelText('prefix'), { target: { value: 'user.session.' } });
    expect(ed.last()).toEqual({ refId: 'V', kind: 'event-types', arg: 'user.session.' });
  });

  it('detectors: no argument, the display field is id or title', async () => {
    const ed = renderEditor({ refId: 'V', kind: 'detectors' });
    expect(screen.queryByLabelText('search')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('prefix')).not.toBeInTheDocument();
    await pick('Display field', 'Title');
    expect(ed.last()).toMatchObject({ kind: 'detectors', display: 'title' });
  });

  it('changing the kind drops the old argument and display', async () => {
    const ed = renderEditor({ refId: 'V', kind: 'detectors', display: 'title' });
    await pick('Variable kind', 'Actors');
    expect(ed.last()).toEqual({ refId: 'V', kind: 'actors', arg: '', display: undefined });
    expect(screen.getByLabelText('search')).toHaveValue('');
  });
});

describe('OktaVariableSupport', () => {
  it('runs the editor query with template variables in the argument', async () => {
    const ds = newDataSource();
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockResolvedValue([{ actor: 'ann@example.com' }, { actor: 'anna@example.com' }]);
    const support = new OktaVariableSupport(ds);
    const res = await lastValueFrom(
      support.query({
        targets: [{ refId: 'V', kind: 'actors', arg: '$who' }],
        scopedVars: {},
      } as unknown as DataQueryRequest<OktaVariableQuery>)
    );
    expect(getResource).toHaveBeenCalledWith('actors', { q: 'ann' });
    expect(res.data).toEqual([
      { value: 'ann@example.com', text: 'ann@example.com' },
      { value: 'anna@example.com', text: 'anna@example.com' },
    ]);
  });
});
