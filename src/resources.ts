import { SelectableValue } from '@grafana/data';

/**
 * Normalises a resource response into select options. The plugin answers with a JSON array of
 * strings or of objects; an object wrapping such an array (`{"detectors": [...]}`) is accepted
 * too. For objects, `valueKeys` name the fields that hold the value, first match wins.
 */
export function toOptions(
  body: unknown,
  valueKeys: string[],
  labelKeys: string[] = []
): Array<SelectableValue<string>> {
  const list = unwrap(body);
  const out: Array<SelectableValue<string>> = [];
  const seen = new Set<string>();
  for (const item of list) {
    let value: string | undefined;
    let label: string | undefined;
    let description: string | undefined;
    if (typeof item === 'string' || typeof item === 'number') {
      value = String(item);
    } else if (item && typeof item === 'object') {
      const rec = item as Record<string, unknown>;
      value = firstString(rec, [...valueKeys, 'value', 'id', 'name']);
      label = firstString(rec, [...labelKeys, 'label', 'title']);
      const count = rec.count;
      description = firstString(rec, ['description', 'severity']);
      if (typeof count === 'number') {
        description = description ? `${description} · ${count}` : `${count} events`;
      }
    }
    if (!value || seen.has(value)) {
      continue;
    }
    seen.add(value);
    out.push({ value, label: label && label !== value ? `${label} (${value})` : value, description });
  }
  return out;
}

function unwrap(body: unknown): unknown[] {
  if (Array.isArray(body)) {
    return body;
  }
  if (body && typeof body === 'object') {
    for (const v of Object.values(body as Record<string, unknown>)) {
      if (Array.isArray(v)) {
        return v;
      }
    }
  }
  return [];
}

function firstString(rec: Record<string, unknown>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = rec[k];
    if (typeof v === 'string' && v !== '') {
      return v;
    }
  }
  return undefined;
}
