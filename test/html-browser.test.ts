// The HTML report in a real browser (issue 13 part 2): headless Chromium renders it to a PNG and
// prints it to PDF. Needs Debian's chromium (scripts/install-deps.sh); without it the test is
// skipped with the reason, except in CI (CI=true), where a missing browser is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HtmlReporter } from '../src/reporters/html.js';
import { writeSample } from './helpers/html-sample.js';

const CHROMIUM = ['chromium', 'chromium-browser', 'google-chrome'].find((b) => spawnSync(b, ['--version']).status === 0);
const why = CHROMIUM ? '' : 'skipped: no chromium on PATH (apt-get install chromium, or scripts/install-deps.sh)';
if (why && process.env.CI !== 'true') console.warn(`html browser test ${why}`);

/** Headless Chromium with no network, profile or background work of its own. */
function chromium(args: string[]): { status: number | null; err: string } {
  const profile = mkdtempSync(join(tmpdir(), 'leafcert-chromium-'));
  const r = spawnSync(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...args],
    { encoding: 'utf8', timeout: 90_000 },
  );
  return { status: r.status, err: r.stderr };
}

async function sampleReport(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'leafcert-html-browser-')), 'report.html');
  await writeSample([new HtmlReporter(path)]);
  return path;
}

describe('HTML report in headless Chromium', () => {
  it.skipIf(Boolean(why) && process.env.CI !== 'true')('renders to a screenshot and prints to PDF', async () => {
    expect(CHROMIUM, 'chromium is required in CI').toBeTruthy();
    const html = await sampleReport();
    // LEAFCERT_SCREENSHOT_DIR keeps the picture (docs/img is made this way).
    const dir = process.env.LEAFCERT_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'leafcert-shot-'));
    mkdirSync(dir, { recursive: true });
    const png = join(dir, 'report-sample.png');
    const shot = chromium([`--screenshot=${png}`, '--window-size=1280,2000', `file://${html}`]);
    expect(existsSync(png), shot.err).toBe(true);
    const buf = readFileSync(png);
    expect(buf.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(buf.readUInt32BE(16)).toBe(1280);
    expect(statSync(png).size).toBeGreaterThan(20_000);

    const pdf = join(dir, 'report-sample.pdf');
    const printed = chromium([`--print-to-pdf=${pdf}`, '--no-pdf-header-footer', `file://${html}`]);
    expect(existsSync(pdf), printed.err).toBe(true);
    expect(readFileSync(pdf).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  }, 120_000);

  it('is one self-contained file: no script, no external reference', async () => {
    const text = readFileSync(await sampleReport(), 'utf8');
    expect(text).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(text).not.toMatch(/(src|href)="(?!#)/);
  });
});
