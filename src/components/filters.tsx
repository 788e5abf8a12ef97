/* eslint-disable @typescript-eslint/no-deprecated -- Select, AsyncSelect and MultiSelect on purpose: Combobox is not stable in Grafana 11.x, which this plugin supports (grafanaDependency >=11.5.0). */
import React, { ChangeEvent, useEffect, useState } from 'react';

import { SelectableValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { AsyncSelect, InlineField, Input, MultiSelect, Select } from '@grafana/ui';

import { DETECTORS, OUTCOME_OPTIONS, SEVERITY_OPTIONS } from '../constants';
import type { DataSource } from '../datasource';
import { MAX_LIMIT, OktaQuery } from '../types';

export const LABEL_WIDTH = 14;

/** `$name` options for the dashboard's template variables, so filters can use them. */
export function variableOptions(): Array<SelectableValue<string>> {
  try {
    return getTemplateSrv()
      .getVariables()
      .map((v) => ({ label: `$${v.name}`, value: `$${v.name}`, description: 'Template variable' }));
  } catch {
    return [];
  }
}

/** Current value as an option, so a value missing from the loaded list still shows. */
function asOption(value: string | undefined): SelectableValue<string> | null {
  return value ? { label: value, value } : null;
}

export interface FilterProps {
  query: OktaQuery;
  onChange: (q: OktaQuery) => void;
  onRunQuery: () => void;
}

export interface PickerProps extends FilterProps {
  datasource: DataSource;
}

/** Sets one field; an empty value removes the filter. */
export function update(props: FilterProps, key: keyof OktaQuery, value: unknown, run = true) {
  const next = { ...props.query, [key]: value } as OktaQuery;
  if (value === undefined || value === '' || value === null) {
    delete next[key];
  }
  props.onChange(next);
  if (run) {
    props.onRunQuery();
  }
}

interface TextProps extends FilterProps {
  field: keyof OktaQuery;
  label: string;
  placeholder?: string;
  tooltip?: string;
  width?: number;
}

/** A free-text filter: updates the query while typing, runs it on blur. */
export function TextFilter(props: TextProps) {
  const { field, label, placeholder, tooltip, width = 30 } = props;
  const id = `oktaguard-q-${String(field)}`;
  return (
    <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip} htmlFor={id}>
      <Input
        id={id}
        width={width}
        value={String(props.query[field] ?? '')}
        placeholder={placeholder}
        onChange={(e: ChangeEvent<HTMLInputElement>) => update(props, field, e.currentTarget.value, false)}
        onBlur={() => props.onRunQuery()}
      />
    </InlineField>
  );
}

/** Row limit: 1..50000, default 1000. */
export function LimitField(props: FilterProps) {
  const id = 'oktaguard-q-limit';
  const v = props.query.limit;
  const invalid = v !== undefined && (!Number.isInteger(v) || v < 1 || v > MAX_LIMIT);
  return (
    <InlineField
      label="Limit"
      labelWidth={LABEL_WIDTH}
      htmlFor={id}
      invalid={invalid}
      error={invalid ? `1 to ${MAX_LIMIT}` : undefined}
      tooltip="Maximum rows (default 1000, at most 50000)"
    >
      <Input
        id={id}
        type="number"
        width={12}
        min={1}
        max={MAX_LIMIT}
        placeholder="1000"
        value={v ?? ''}
        onChange={(e: ChangeEvent<HTMLInputElement>) => {
          const raw = e.currentTarget.value;
          update(props, 'limit', raw === '' ? undefined : parseInt(raw, 10), false);
        }}
        onBlur={() => props.onRunQuery()}
      />
    </InlineField>
  );
}

/** Actor (login) picker fed by resources/actors?q=; free text and variables allowed. */
export function ActorPicker(props: PickerProps & { label?: string; tooltip?: string }) {
  const { datasource, label = 'Actor', tooltip = 'Actor login (alternateId)' } = props;
  const id = 'oktaguard-q-actor';
  const load = async (q: string) => {
    const found = await datasource.getActors(q).catch(() => []);
    return [...variableOptions(), ...found];
  };
  return (
    <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip} htmlFor={id}>
      <AsyncSelect<string>
        inputId={id}
        width={36}
        isClearable
        allowCustomValue
        defaultOptions
        loadOptions={load}
        value={asOption(props.query.actor)}
        placeholder="any user"
        onChange={(v: SelectableValue<string> | null) => update(props, 'actor', v?.value)}
        onCreateOption={(v: string) => update(props, 'actor', v)}
      />
    </InlineField>
  );
}

/** Event-type prefix picker fed by resources/event-types?prefix=. */
export function EventTypePicker(props: PickerProps) {
  const { datasource } = props;
  const id = 'oktaguard-q-eventType';
  const load = async (prefix: string) => {
    const found = await datasource.getEventTypes(prefix).catch(() => []);
    return [...variableOptions(), ...found];
  };
  return (
    <InlineField
      label="Event type"
      labelWidth={LABEL_WIDTH}
      tooltip="Event type or prefix, e.g. user.session.start or user.account."
      htmlFor={id}
    >
      <AsyncSelect<string>
        inputId={id}
        width={36}
        isClearable
        allowCustomValue
        defaultOptions
        loadOptions={load}
        value={asOption(props.query.eventType)}
        placeholder="any event type"
        onChange={(v: SelectableValue<string> | null) => update(props, 'eventType', v?.value)}
        onCreateOption={(v: string) => update(props, 'eventType', v)}
      />
    </InlineField>
  );
}

/** Detector picker fed by resources/detectors (falls back to the built-in list). */
export function DetectorPicker(props: PickerProps) {
  const { datasource } = props;
  const id = 'oktaguard-q-detector';
  const builtIn = DETECTORS.map((d) => ({ value: d.id, label: d.id, description: d.title }));
  const [options, setOptions] = useState<Array<SelectableValue<string>>>(builtIn);
  useEffect(() => {
    let live = true;
    datasource
      .getDetectors()
      .then((found) => {
        if (live && found.length > 0) {
          setOptions(found);
        }
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [datasource]);
  return (
    <InlineField label="Detector" labelWidth={LABEL_WIDTH} htmlFor={id}>
      <Select<string>
        inputId={id}
        width={36}
        isClearable
        allowCustomValue
        options={[...variableOptions(), ...options]}
        value={asOption(props.query.detector)}
        placeholder="any detector"
        onChange={(v: SelectableValue<string> | null) => update(props, 'detector', v?.value)}
        onCreateOption={(v: string) => update(props, 'detector', v)}
      />
    </InlineField>
  );
}

/** Severity: one or more of info..critical, stored as a comma-separated list. */
export function SeverityPicker(props: FilterProps) {
  const id = 'oktaguard-q-severity';
  const current = (props.query.severity ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (
    <InlineField label="Severity" labelWidth={LABEL_WIDTH} htmlFor={id}>
      <MultiSelect<string>
        inputId={id}
        width={36}
        allowCustomValue
        options={[...SEVERITY_OPTIONS, ...variableOptions()]}
        value={current.map((v) => ({ label: v, value: v }))}
        placeholder="any severity"
        onChange={(vs: Array<SelectableValue<string>>) =>
          update(
            props,
            'severity',
            vs
              .map((v) => v.value)
              .filter(Boolean)
              .join(',')
          )
        }
      />
    </InlineField>
  );
}

/** Outcome: SUCCESS, FAILURE, ... */
export function OutcomePicker(props: FilterProps) {
  const id = 'oktaguard-q-outcome';
  return (
    <InlineField label="Outcome" labelWidth={LABEL_WIDTH} htmlFor={id}>
      <Select<string>
        inputId={id}
        width={20}
        isClearable
        allowCustomValue
        options={[...OUTCOME_OPTIONS, ...variableOptions()]}
        value={asOption(props.query.outcome)}
        placeholder="any"
        onChange={(v: SelectableValue<string> | null) => update(props, 'outcome', v?.value)}
      />
    </InlineField>
  );
}
