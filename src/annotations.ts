import { AnnotationEvent, DataFrame, Field, FieldType, getFieldDisplayName } from '@grafana/data';

const TITLE_FIELDS = ['title', 'name'];
const TEXT_FIELDS = ['summary', 'text', 'description', 'displaymessage', 'message'];
const TAG_FIELDS = ['detector', 'severity', 'actor', 'ip', 'country', 'eventtype', 'outcome'];
const ID_FIELDS = ['id', 'uuid'];

function byName(frame: DataFrame, names: string[]): Field | undefined {
  for (const n of names) {
    const f = frame.fields.find((x) => x.name.toLowerCase() === n || getFieldDisplayName(x, frame).toLowerCase() === n);
    if (f) {
      return f;
    }
  }
  return undefined;
}

function toMillis(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) {
    return v;
  }
  if (typeof v === 'string' && v !== '') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  if (v instanceof Date) {
    return v.getTime();
  }
  return undefined;
}

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/**
 * Rows of a frame that describes events (alerts, activity) become one annotation each:
 * title from `title`, text from `summary`/`text`, tags from detector, severity, actor...
 */
function rowEvents(frame: DataFrame, time: Field): AnnotationEvent[] {
  const title = byName(frame, TITLE_FIELDS);
  const text = byName(frame, TEXT_FIELDS);
  const id = byName(frame, ID_FIELDS);
  const tagFields = TAG_FIELDS.map((n) => byName(frame, [n])).filter((f): f is Field => Boolean(f));
  const out: AnnotationEvent[] = [];
  for (let i = 0; i < frame.length; i++) {
    const t = toMillis(time.values[i]);
    if (t === undefined) {
      continue;
    }
    const tags = tagFields.map((f) => str(f.values[i])).filter((s) => s !== '');
    const parts = [str(title?.values[i]), str(text?.values[i])].filter((s) => s !== '');
    out.push({
      id: id ? str(id.values[i]) : undefined,
      time: t,
      title: title ? str(title.values[i]) : undefined,
      text: parts.join('\n') || tags.join(' '),
      tags,
    });
  }
  return out;
}

/**
 * Frames without a title/text column (posture_history: time plus score and per-check status)
 * become drift annotations: one event where a number drops or a status leaves `pass`.
 */
function driftEvents(frame: DataFrame, time: Field): AnnotationEvent[] {
  const order = Array.from({ length: frame.length }, (_, i) => i)
    .map((i) => ({ i, t: toMillis(time.values[i]) }))
    .filter((x): x is { i: number; t: number } => x.t !== undefined)
    .sort((a, b) => a.t - b.t);
  const out: AnnotationEvent[] = [];
  for (const field of frame.fields) {
    if (field === time || (field.type !== FieldType.number && field.type !== FieldType.string)) {
      continue;
    }
    const name = getFieldDisplayName(field, frame);
    for (let k = 1; k < order.length; k++) {
      const prev = field.values[order[k - 1].i];
      const cur = field.values[order[k].i];
      if (prev === null || prev === undefined || cur === null || cur === undefined) {
        continue;
      }
      if (field.type === FieldType.number && typeof prev === 'number' && typeof cur === 'number' && cur < prev) {
        out.push({
          time: order[k].t,
          title: `${name} dropped`,
          text: `${name} dropped from ${prev} to ${cur}`,
          tags: ['posture', 'drift'],
        });
      } else if (field.type === FieldType.string && prev === 'pass' && cur !== 'pass') {
        out.push({
          time: order[k].t,
          title: `${name} regressed`,
          text: `${name}: ${prev} → ${cur}`,
          tags: ['posture', 'drift', str(cur)],
        });
      }
    }
  }
  return out;
}

/** Turns the plugin's frames (alerts, activity or posture_history) into annotation events. */
export function framesToAnnotations(frames: DataFrame[]): AnnotationEvent[] {
  const events: AnnotationEvent[] = [];
  for (const frame of frames) {
    const time = frame.fields.find((f) => f.type === FieldType.time);
    if (!time || frame.length === 0) {
      continue;
    }
    if (byName(frame, TITLE_FIELDS) || byName(frame, TEXT_FIELDS)) {
      events.push(...rowEvents(frame, time));
    } else {
      events.push(...driftEvents(frame, time));
    }
  }
  return events.sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
}
