/** Client-side checks that mirror the backend's settings validation (the backend has the final say). */

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** Go duration syntax (`30s`, `1h30m`, `168h`). */
export function isDuration(s: string): boolean {
  return DURATION.test(s.trim());
}

/** Duration in milliseconds, or undefined when it is not a Go duration. */
export function durationMs(s: string): number | undefined {
  const t = s.trim();
  if (!isDuration(t)) {
    return undefined;
  }
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += parseFloat(m[1]) * unit[m[2]];
  }
  return total;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * The org URL must be https, or http to a loopback address (simulator, tests).
 * Returns an error message, or undefined when the URL is acceptable or empty.
 */
export function orgUrlError(raw: string | undefined): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '') {
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'Not a URL: use https://<your-org>.okta.com';
  }
  if (u.protocol === 'https:') {
    return undefined;
  }
  if (u.protocol === 'http:') {
    return LOOPBACK.test(u.hostname) ? undefined : 'Plain http is only allowed to a loopback address; use https';
  }
  return `Unsupported scheme ${u.protocol.replace(':', '')}: use https`;
}

/** OAuth key id (kid): sent as is in the JWT header, so no whitespace. */
export function keyIdError(s: string | undefined): string | undefined {
  return s && /\s/.test(s) ? 'A key id has no spaces: copy the kid exactly as Okta shows it' : undefined;
}

/** Backfill: a duration in (0, 90 days]. */
export function backfillError(s: string | undefined): string | undefined {
  if (!s) {
    return undefined;
  }
  const ms = durationMs(s);
  if (ms === undefined) {
    return 'Not a duration (examples: 24h, 168h)';
  }
  if (ms <= 0 || ms > 90 * 24 * 3600e3) {
    return 'Okta keeps 90 days: use a value up to 2160h';
  }
  return undefined;
}

/** Poll interval: a duration in [5s, 1h]. */
export function pollIntervalError(s: string | undefined): string | undefined {
  if (!s) {
    return undefined;
  }
  const ms = durationMs(s);
  if (ms === undefined) {
    return 'Not a duration (example: 30s)';
  }
  if (ms < 5e3 || ms > 3600e3) {
    return 'Use a value between 5s and 1h';
  }
  return undefined;
}

/** Rate-limit share: a number in (0, 1]. */
export function rateLimitShareError(v: number | undefined): string | undefined {
  if (v === undefined) {
    return undefined;
  }
  if (!Number.isFinite(v) || v <= 0 || v > 1) {
    return 'Use a share in (0, 1], e.g. 0.5 for half of the org rate limit';
  }
  return undefined;
}
