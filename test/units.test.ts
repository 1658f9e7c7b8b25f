import { describe, expect, it } from 'vitest';
import {
  formatSize,
  parseDuration,
  parsePercent,
  parseSize,
  parseSystemdTimespan,
  pgExpectedValue,
  pgSettingValue,
  UnitError,
} from '../src/core/units.js';

describe('parseSize', () => {
  it.each([
    ['8G', 8589934592],
    ['8g', 8589934592],
    ['8 G', 8589934592],
    ['2GB', 2147483648],
    ['2GiB', 2147483648],
    ['512M', 536870912],
    ['512MB', 536870912],
    ['64k', 65536],
    ['64KiB', 65536],
    ['1T', 1024 ** 4],
    ['1.5G', 1610612736],
    ['1048576', 1048576],
    ['100B', 100],
    ['0', 0],
    [' 8G ', 8589934592],
    ['infinity', Infinity],
    ['max', Infinity],
  ])('%s → %d', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });
  it('takes numbers as bytes', () => {
    expect(parseSize(4096)).toBe(4096);
  });
  it.each(['', '  ', '-1', '1e3', '0x10', '8X', 'G', '8 G B', 'eight'])('rejects %j with a hint', (input) => {
    expect(() => parseSize(input)).toThrow(UnitError);
    expect(() => parseSize(input)).toThrow(/is not a size \(expected e\.g\. 512M, 8G/);
  });
  it('rejects negative and non-finite numbers', () => {
    expect(() => parseSize(-5)).toThrow(UnitError);
    expect(() => parseSize(NaN)).toThrow(UnitError);
  });
});

describe('parsePercent', () => {
  it.each([
    ['400%', 4],
    ['50%', 0.5],
    [' 100 % ', 1],
    ['12.5%', 0.125],
  ])('%s → %d', (input, frac) => {
    expect(parsePercent(input)).toBe(frac);
  });
  it('takes numbers as percent', () => expect(parsePercent(400)).toBe(4));
  it.each(['%', '4', 'abc%', '-5%', ''])('rejects %j', (input) => {
    expect(() => parsePercent(input)).toThrow(UnitError);
  });
  it('rejects negative numbers', () => expect(() => parsePercent(-1)).toThrow(UnitError));
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['30', 30_000],
    ['2m', 120_000],
    ['2min', 120_000],
    ['26h', 93_600_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['1min 30s', 90_000],
    ['1.5s', 1500],
    ['100us', 0.1],
    ['26H', 93_600_000],
    ['0', 0],
    ['infinity', Infinity],
  ])('%s → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });
  it('takes numbers as seconds', () => expect(parseDuration(1.5)).toBe(1500));
  it.each(['', 'abc', '10x', '10sx', 's', '1 2', '5 3s', '-1s', '1.s'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(UnitError);
  });
  it('rejects negative numbers', () => expect(() => parseDuration(-1)).toThrow(UnitError));
});

describe('parseSystemdTimespan (as systemctl show prints it)', () => {
  it.each([
    ['4s', 4_000_000],
    ['1.500000s', 1_500_000],
    ['500ms', 500_000],
    ['100ms', 100_000],
    ['1min 30s', 90_000_000],
    ['5us', 5],
    ['5µs', 5],
    ['5μs', 5],
    ['1month 2w', 2_629_800_000_000 + 1_209_600_000_000],
    ['1y 1month', 31_557_600_000_000 + 2_629_800_000_000],
    ['0', 0],
    ['infinity', Infinity],
  ])('%s → %d µs', (input, us) => {
    expect(parseSystemdTimespan(input)).toBe(us);
  });
  it('400% CPUQuota is printed as CPUQuotaPerSecUSec=4s', () => {
    expect(parseSystemdTimespan('4s') / 1_000_000).toBe(parsePercent('400%'));
  });
  it('rejects garbage', () => expect(() => parseSystemdTimespan('[not set]')).toThrow(UnitError));
});

describe('pgSettingValue (pg_settings setting + unit)', () => {
  it('scales by the unit, including 8kB pages', () => {
    // shared_buffers = 2GB is reported as 262144 × 8kB.
    expect(pgSettingValue('262144', '8kB')).toEqual({ kind: 'bytes', value: 2 * 1024 ** 3 });
    expect(pgSettingValue('10240', 'kB')).toEqual({ kind: 'bytes', value: 10 * 1024 ** 2 });
    expect(pgSettingValue('16', 'MB')).toEqual({ kind: 'bytes', value: 16 * 1024 ** 2 });
    expect(pgSettingValue('200', 'ms')).toEqual({ kind: 'ms', value: 200 });
    expect(pgSettingValue('60', 's')).toEqual({ kind: 'ms', value: 60_000 });
    expect(pgSettingValue('1', 'min')).toEqual({ kind: 'ms', value: 60_000 });
  });
  it('keeps -1 ("not set") as a number instead of inventing a size', () => {
    expect(pgSettingValue('-1', 'kB')).toEqual({ kind: 'number', value: -1 });
    expect(pgSettingValue('-1', 'ms')).toEqual({ kind: 'number', value: -1 });
  });
  it('unitless numbers and text', () => {
    expect(pgSettingValue('100', null)).toEqual({ kind: 'number', value: 100 });
    expect(pgSettingValue('0.1', '')).toEqual({ kind: 'number', value: 0.1 });
    expect(pgSettingValue('on', null)).toEqual({ kind: 'text', value: 'on' });
    expect(pgSettingValue('scram-sha-256', undefined)).toEqual({ kind: 'text', value: 'scram-sha-256' });
  });
});

describe('pgExpectedValue', () => {
  it('parses sizes PostgreSQL-style and matches pg_settings', () => {
    expect(pgExpectedValue('2GB', 'bytes')).toEqual(pgSettingValue('262144', '8kB'));
    expect(pgExpectedValue('10MB', 'bytes')).toEqual(pgSettingValue('10240', 'kB'));
    expect(pgExpectedValue('8kB', 'bytes').value).toBe(8192);
    expect(pgExpectedValue(4096, 'bytes').value).toBe(4096);
  });
  it('parses durations; a bare number is in ms as a number or as a string', () => {
    expect(pgExpectedValue('200ms', 'ms').value).toBe(200);
    expect(pgExpectedValue('1min', 'ms').value).toBe(60_000);
    expect(pgExpectedValue(200, 'ms').value).toBe(200);
    expect(pgExpectedValue('200', 'ms').value).toBe(200);
  });
  it('normalises booleans to on/off', () => {
    expect(pgExpectedValue(true, 'text')).toEqual({ kind: 'text', value: 'on' });
    expect(pgExpectedValue(false, 'text')).toEqual({ kind: 'text', value: 'off' });
    expect(pgExpectedValue('yes', 'text')).toEqual({ kind: 'text', value: 'on' });
    expect(pgExpectedValue('scram-sha-256', 'text')).toEqual({ kind: 'text', value: 'scram-sha-256' });
  });
  it('numbers', () => {
    expect(pgExpectedValue('1.1', 'number')).toEqual({ kind: 'number', value: 1.1 });
    expect(() => pgExpectedValue('abc', 'number')).toThrow(UnitError);
    expect(() => pgExpectedValue('', 'number')).toThrow(UnitError);
  });
  it('rejects a non-size for a size setting', () => {
    expect(() => pgExpectedValue('lots', 'bytes')).toThrow(UnitError);
  });
});

describe('formatSize', () => {
  it.each([
    [8589934592, '8G'],
    [536870912, '512M'],
    [1024 ** 4, '1T'],
    [65536, '64K'],
    [1536, '1536'],
    [1000, '1000'],
    [Infinity, 'infinity'],
  ])('%d → %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
  it('round-trips through parseSize', () => {
    for (const s of ['8G', '512M', '64K', '3T']) expect(formatSize(parseSize(s))).toBe(s);
  });
});
