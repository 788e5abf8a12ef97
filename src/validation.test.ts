import { toOptions } from './resources';
import {
  backfillError,
  durationMs,
  isDuration,
  keyIdError,
  orgUrlError,
  pollIntervalError,
  rateLimitShareError,
} from './validation';

describe('validation', () => {
  it('parses Go durations', () => {
    expect(isDuration('30s')).toBe(true);
    expect(isDuration('1h30m')).toBe(true);
    expect(isDuration('30')).toBe(false);
    expect(isDuration('7d')).toBe(false);
    expect(durationMs('1h30m')).toBe(5400e3);
    expect(durationMs('250ms')).toBe(250);
    expect(durationMs('x')).toBeUndefined();
  });

  it('refuses whitespace in an OAuth key id', () => {
    expect(keyIdError(undefined)).toBeUndefined();
    expect(keyIdError('')).toBeUndefined();
    expect(keyIdError('Aq5c9iVpT-0hFpY_kid')).toBeUndefined();
    expect(keyIdError('key 2')).toMatch(/no spaces/);
  });

  it('accepts https and loopback http org URLs only', () => {
    expect(orgUrlError('https://example.okta.com')).toBeUndefined();
    expect(orgUrlError('http://127.0.0.1:18080')).toBeUndefined();
    expect(orgUrlError('http://localhost:8080')).toBeUndefined();
    expect(orgUrlError('http://[::1]:8080')).toBeUndefined();
    expect(orgUrlError('')).toBeUndefined();
    expect(orgUrlError('http://example.okta.com')).toMatch(/loopback/);
    expect(orgUrlError('http://127.example.com')).toMatch(/loopback/);
    expect(orgUrlError('ftp://example.okta.com')).toMatch(/Unsupported scheme ftp/);
    expect(orgUrlError('example.okta.com')).toMatch(/Not a URL/);
  });

  it('bounds backfill, poll interval and rate-limit share', () => {
    expect(backfillError('168h')).toBeUndefined();
    expect(backfillError('2160h')).toBeUndefined();
    expect(backfillError('2161h')).toMatch(/90 days/);
    expect(backfillError('week')).toMatch(/Not a duration/);
    expect(pollIntervalError('5s')).toBeUndefined();
    expect(pollIntervalError('4s')).toMatch(/between 5s and 1h/);
    expect(pollIntervalError('2h')).toMatch(/between 5s and 1h/);
    expect(rateLimitShareError(0.5)).toBeUndefined();
    expect(rateLimitShareError(1)).toBeUndefined();
    expect(rateLimitShareError(0)).toMatch(/\(0, 1\]/);
    expect(rateLimitShareError(1.5)).toMatch(/\(0, 1\]/);
    expect(rateLimitShareError(NaN)).toMatch(/\(0, 1\]/);
  });
});

describe('toOptions', () => {
  it('accepts arrays of strings, arrays of objects and wrapped arrays', () => {
    expect(toOptions(['a', 'b', 'a'], [])).toEqual([
      { value: 'a', label: 'a', description: undefined },
      { value: 'b', label: 'b', description: undefined },
    ]);
    expect(
      toOptions({ detectors: [{ id: 'mfa_fatigue', title: 'MFA fatigue', severity: 'high' }] }, ['id'], ['title'])
    ).toEqual([{ value: 'mfa_fatigue', label: 'MFA fatigue (mfa_fatigue)', description: 'high' }]);
    expect(toOptions([{ eventType: 'user.session.start', count: 12 }], ['eventType'])).toEqual([
      { value: 'user.session.start', label: 'user.session.start', description: '12 events' },
    ]);
    expect(toOptions(null, ['id'])).toEqual([]);
    expect(toOptions([{ nothing: 1 }, 7], ['id'])).toEqual([{ value: '7', label: '7', description: undefined }]);
  });
});
