/* eslint-disable @typescript-eslint/no-deprecated -- Select, AsyncSelect and MultiSelect on purpose: Combobox is not stable in Grafana 11.x, which this plugin supports (grafanaDependency >=11.5.0). */
import React from 'react';

import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Button, InlineField, InlineFieldRow, InlineSwitch, RadioButtonGroup, Select, Stack } from '@grafana/ui';

import {
  ALERT_STATUS_OPTIONS,
  GROUP_BY_OPTIONS,
  PROFILE_OPTIONS,
  QUERY_TYPE_OPTIONS,
  STATUS_OPTIONS,
  USER_VIEW_OPTIONS,
} from '../constants';
import { DataSource } from '../datasource';
import {
  ActivityFormat,
  GroupBy,
  OktaOptions,
  OktaQuery,
  QUERY_FIELDS,
  QueryType,
  SeriesSource,
  UserView,
} from '../types';
import {
  ActorPicker,
  DetectorPicker,
  EventTypePicker,
  FilterProps,
  LABEL_WIDTH,
  LimitField,
  OutcomePicker,
  PickerProps,
  SeverityPicker,
  TextFilter,
  update,
  variableOptions,
} from './filters';

export type Props = QueryEditorProps<DataSource, OktaQuery, OktaOptions>;

const FORMAT_OPTIONS: Array<SelectableValue<ActivityFormat>> = [
  { label: 'Table', value: 'table' },
  { label: 'Logs', value: 'logs' },
];

const SOURCE_OPTIONS: Array<SelectableValue<SeriesSource>> = [
  { label: 'Events', value: 'events' },
  { label: 'Alerts', value: 'alerts' },
];

function ActivityEditor(p: PickerProps) {
  return (
    <>
      <InlineFieldRow>
        <ActorPicker {...p} />
        <EventTypePicker {...p} />
        <OutcomePicker {...p} />
      </InlineFieldRow>
      <InlineFieldRow>
        <TextFilter {...p} field="ip" label="IP" placeholder="203.0.113.7" width={20} />
        <TextFilter {...p} field="country" label="Country" placeholder="United States" width={20} />
        <TextFilter {...p} field="sessionId" label="Session" placeholder="externalSessionId" width={24} />
      </InlineFieldRow>
      <InlineFieldRow>
        <TextFilter
          {...p}
          field="text"
          label="Text"
          placeholder="search display message, reason, user agent"
          width={48}
        />
        <LimitField {...p} />
        <InlineField label="Format" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<ActivityFormat>
            options={FORMAT_OPTIONS}
            value={p.query.format ?? 'table'}
            onChange={(v) => update(p, 'format', v)}
          />
        </InlineField>
      </InlineFieldRow>
      <ExclusionList {...p} />
    </>
  );
}

/** The query's "label != value" exclusions (Explore's filter out value, `!=` ad hoc filters), each removable. */
function ExclusionList(p: FilterProps) {
  const exclude = p.query.exclude ?? [];
  if (exclude.length === 0) {
    return null;
  }
  return (
    <InlineFieldRow>
      <InlineField
        label="Filter out"
        labelWidth={LABEL_WIDTH}
        tooltip="Events whose label equals one of these values are left out (added by Explore's filter out value)"
      >
        <Stack direction="row" gap={0.5} wrap="wrap" alignItems="center">
          {exclude.map((e, i) => (
            <Button
              key={`${e.key}=${e.value}`}
              size="sm"
              variant="secondary"
              icon="times"
              aria-label={`Remove filter out ${e.key} ${e.value}`}
              onClick={() => {
                const rest = exclude.filter((_, j) => j !== i);
                update(p, 'exclude', rest.length ? rest : undefined);
              }}
            >
              {e.key} != {e.value}
            </Button>
          ))}
        </Stack>
      </InlineField>
    </InlineFieldRow>
  );
}

function AlertStatusPicker(p: FilterProps & { placeholder: string }) {
  return (
    <InlineField
      label="Status"
      labelWidth={LABEL_WIDTH}
      htmlFor="oktaguard-q-alertStatus"
      tooltip="Triage status: a comma-separated list (open,acknowledged) or all"
    >
      <Select<string>
        inputId="oktaguard-q-alertStatus"
        width={24}
        isClearable
        allowCustomValue
        options={[...ALERT_STATUS_OPTIONS, ...variableOptions()]}
        value={p.query.status ? { label: p.query.status, value: p.query.status } : null}
        placeholder={p.placeholder}
        onChange={(v: SelectableValue<string> | null) => update(p, 'status', v?.value)}
      />
    </InlineField>
  );
}

function AlertsEditor(p: PickerProps) {
  return (
    <>
      <InlineFieldRow>
        <DetectorPicker {...p} />
        <SeverityPicker {...p} />
        <ActorPicker {...p} />
      </InlineFieldRow>
      <InlineFieldRow>
        <AlertStatusPicker {...p} placeholder="open, acknowledged" />
        <LimitField {...p} />
      </InlineFieldRow>
    </>
  );
}

function ExceptionsEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <InlineField
        label="Include inactive"
        labelWidth={LABEL_WIDTH}
        htmlFor="oktaguard-q-all"
        tooltip="Also list expired and removed exceptions"
      >
        <InlineSwitch
          id="oktaguard-q-all"
          value={p.query.all ?? false}
          onChange={(e: React.FormEvent<HTMLInputElement>) => update(p, 'all', e.currentTarget.checked || undefined)}
        />
      </InlineField>
      <LimitField {...p} />
    </InlineFieldRow>
  );
}

function AlertHistoryEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <AlertStatusPicker {...p} placeholder="all changes" />
      <LimitField {...p} />
    </InlineFieldRow>
  );
}

function UserEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <ActorPicker {...p} label="User" tooltip="The user's login" />
      <InlineField label="View" labelWidth={LABEL_WIDTH} htmlFor="oktaguard-q-view">
        <Select<UserView>
          inputId="oktaguard-q-view"
          width={28}
          options={USER_VIEW_OPTIONS}
          value={p.query.view ?? 'signins'}
          onChange={(v: SelectableValue<UserView>) => update(p, 'view', v.value)}
        />
      </InlineField>
      <LimitField {...p} />
    </InlineFieldRow>
  );
}

function TimeseriesEditor(p: PickerProps) {
  const source: SeriesSource = p.query.source ?? 'events';
  const groupOptions = GROUP_BY_OPTIONS.filter((o) =>
    source === 'alerts'
      ? ['', 'detector', 'severity'].includes(o.value ?? '')
      : !['detector', 'severity'].includes(o.value ?? '')
  );
  const setSource = (v: SeriesSource) => {
    const next: OktaQuery = { ...p.query, source: v };
    // groupBy and filters of the other source no longer apply
    if (!groupOptionsFor(v).includes(next.groupBy ?? '')) {
      delete next.groupBy;
    }
    if (v === 'events') {
      delete next.detector;
      delete next.severity;
    } else {
      delete next.eventType;
      delete next.outcome;
    }
    p.onChange(next);
    p.onRunQuery();
  };
  return (
    <>
      <InlineFieldRow>
        <InlineField label="Source" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<SeriesSource> options={SOURCE_OPTIONS} value={source} onChange={setSource} />
        </InlineField>
        <InlineField label="Group by" labelWidth={LABEL_WIDTH} htmlFor="oktaguard-q-groupBy">
          <Select<GroupBy>
            inputId="oktaguard-q-groupBy"
            width={20}
            options={groupOptions}
            value={p.query.groupBy ?? ''}
            onChange={(v: SelectableValue<GroupBy>) => update(p, 'groupBy', v.value)}
          />
        </InlineField>
        <TextFilter
          {...p}
          field="interval"
          label="Interval"
          placeholder="auto"
          width={12}
          tooltip="Bucket size as a Go duration (1m, 5m, 1h); empty uses the panel's interval"
        />
      </InlineFieldRow>
      <InlineFieldRow>
        <ActorPicker {...p} />
        {source === 'events' ? (
          <>
            <EventTypePicker {...p} />
            <OutcomePicker {...p} />
          </>
        ) : (
          <>
            <DetectorPicker {...p} />
            <SeverityPicker {...p} />
            <AlertStatusPicker {...p} placeholder="all" />
          </>
        )}
      </InlineFieldRow>
    </>
  );
}

function groupOptionsFor(source: SeriesSource): string[] {
  return source === 'alerts' ? ['', 'detector', 'severity'] : ['', 'eventType', 'outcome', 'country'];
}

function GeoEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <ActorPicker {...p} />
      <EventTypePicker {...p} />
      <OutcomePicker {...p} />
      <LimitField {...p} />
    </InlineFieldRow>
  );
}

function ProfilePicker(p: FilterProps) {
  return (
    <InlineField
      label="Profile"
      labelWidth={LABEL_WIDTH}
      htmlFor="oktaguard-q-profile"
      tooltip="Empty: the data source's profile"
    >
      <Select<string>
        inputId="oktaguard-q-profile"
        width={20}
        isClearable
        allowCustomValue
        options={[...PROFILE_OPTIONS, ...variableOptions()]}
        value={p.query.profile ? { label: p.query.profile, value: p.query.profile } : null}
        placeholder="default"
        onChange={(v: SelectableValue<string> | null) => update(p, 'profile', v?.value)}
      />
    </InlineField>
  );
}

function PostureEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <ProfilePicker {...p} />
      <InlineField label="Status" labelWidth={LABEL_WIDTH} htmlFor="oktaguard-q-status">
        <Select<string>
          inputId="oktaguard-q-status"
          width={20}
          isClearable
          allowCustomValue
          options={[...STATUS_OPTIONS, ...variableOptions()]}
          value={p.query.status ? { label: p.query.status, value: p.query.status } : null}
          placeholder="any"
          onChange={(v: SelectableValue<string> | null) => update(p, 'status', v?.value)}
        />
      </InlineField>
      <TextFilter {...p} field="category" label="Category" placeholder="any category" width={24} />
    </InlineFieldRow>
  );
}

function PostureHistoryEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <ProfilePicker {...p} />
      <TextFilter
        {...p}
        field="check"
        label="Check"
        placeholder="overall score"
        width={36}
        tooltip="A posture check id (okta.password.min_length); empty: the overall score"
      />
      <InlineField
        label="Drift"
        labelWidth={LABEL_WIDTH}
        htmlFor="oktaguard-q-drift"
        tooltip="Return the recorded regressions (check, resource, causing event and actor) instead of the score series: for annotations"
      >
        <InlineSwitch
          id="oktaguard-q-drift"
          value={p.query.drift ?? false}
          onChange={(e: React.FormEvent<HTMLInputElement>) => update(p, 'drift', e.currentTarget.checked || undefined)}
        />
      </InlineField>
    </InlineFieldRow>
  );
}

function UsersEditor(p: PickerProps) {
  return (
    <InlineFieldRow>
      <ActorPicker {...p} label="Search" tooltip="Part of a user's login" />
      <LimitField {...p} />
    </InlineFieldRow>
  );
}

const EDITORS: Record<QueryType, (p: PickerProps) => React.JSX.Element> = {
  activity: ActivityEditor,
  alerts: AlertsEditor,
  timeseries: TimeseriesEditor,
  geo: GeoEditor,
  posture: PostureEditor,
  posture_history: PostureHistoryEditor,
  users: UsersEditor,
  exceptions: ExceptionsEditor,
  alert_history: AlertHistoryEditor,
  user: UserEditor,
};

/** Keeps only the fields the new query type understands. */
export function changeQueryType(query: OktaQuery, queryType: QueryType): OktaQuery {
  const keep = new Set<string>(['refId', 'hide', 'datasource', 'key', 'queryType', ...QUERY_FIELDS[queryType]]);
  const next: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (keep.has(k)) {
      next[k] = v;
    }
  }
  next.queryType = queryType;
  if (queryType === 'activity' && !next.format) {
    next.format = 'table';
  }
  return next as unknown as OktaQuery;
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  // logs_volume is Explore's supplementary query: it is edited as the activity query it comes from.
  const queryType: QueryType = query.queryType === 'logs_volume' ? 'activity' : (query.queryType ?? 'activity');
  const Editor = EDITORS[queryType] ?? ActivityEditor;
  return (
    <>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH} htmlFor="oktaguard-q-queryType">
          <Select<QueryType>
            inputId="oktaguard-q-queryType"
            width={36}
            options={QUERY_TYPE_OPTIONS}
            value={queryType}
            onChange={(v: SelectableValue<QueryType>) => {
              if (v.value && v.value !== query.queryType) {
                onChange(changeQueryType(query, v.value));
                onRunQuery();
              }
            }}
          />
        </InlineField>
      </InlineFieldRow>
      <Editor query={{ ...query, queryType }} onChange={onChange} onRunQuery={onRunQuery} datasource={datasource} />
    </>
  );
}
