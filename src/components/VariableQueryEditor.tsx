/* eslint-disable @typescript-eslint/no-deprecated -- Select on purpose: Combobox is not stable in Grafana 11.x, which this plugin supports (grafanaDependency >=11.5.0). */
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, Input, Select, Stack } from '@grafana/ui';
import React from 'react';

import type { DataSource } from '../datasource';
import { OktaOptions, OktaQuery } from '../types';
import { OktaVariableQuery, VARIABLE_KINDS, VariableKind, toVariableQuery } from '../variables';

type Props = QueryEditorProps<DataSource, OktaQuery, OktaOptions, OktaVariableQuery>;

const DISPLAY: Array<SelectableValue<'value' | 'title'>> = [
  { value: 'value', label: 'Id' },
  { value: 'title', label: 'Title' },
];

/** Variable editor: what to list, its search/prefix, and (detectors) the display field. */
export function VariableQueryEditor({ query, onChange }: Props) {
  const q = toVariableQuery(query);
  const kind = VARIABLE_KINDS.find((k) => k.value === q.kind) ?? VARIABLE_KINDS[0];
  const set = (patch: Partial<OktaVariableQuery>) => onChange({ ...q, ...patch });
  return (
    <Stack direction="row" gap={1} wrap="wrap">
      <InlineField label="List" labelWidth={10} tooltip="What the variable's values are">
        <Select<VariableKind>
          aria-label="Variable kind"
          width={20}
          options={VARIABLE_KINDS}
          value={kind.value}
          onChange={(v) => v.value && set({ kind: v.value, arg: '', display: undefined })}
        />
      </InlineField>
      {kind.arg && (
        <InlineField label={kind.arg === 'search' ? 'Search' : 'Prefix'} labelWidth={10}>
          <Input
            aria-label={kind.arg}
            width={24}
            value={q.arg ?? ''}
            placeholder={kind.arg === 'search' ? 'part of a login' : 'user.session.'}
            onChange={(e) => set({ arg: e.currentTarget.value })}
          />
        </InlineField>
      )}
      {kind.value === 'detectors' && (
        <InlineField label="Display" labelWidth={10} tooltip="Text shown for each value (the value stays the id)">
          <Select<'value' | 'title'>
            aria-label="Display field"
            width={14}
            options={DISPLAY}
            value={q.display ?? 'value'}
            onChange={(v) => set({ display: v.value })}
          />
        </InlineField>
      )}
    </Stack>
  );
}
