// SIGINT and SIGTERM at any moment of a run, start-up included. The first stops the run: the
// engine reports every unfinished check as `error` ("interrupted"), finishes the reports and
// leafcert exits 3. A second exits 3 at once, leaving the last partial reports (complete=false).
//
// bin/leafcert.js installs the handlers before the CLI's modules load (a second or more on a busy
// machine): until then a signal is Node's default death, exit 130 with no report and no word.
// Until a command that writes reports takes them over (signalScope), a signal is only recorded:
// a command that writes none (lab, plan) gets Node's default behaviour back (releaseSignals).
// This module imports nothing, so loading it first is cheap.

let controller = new AbortController();
let received: NodeJS.Signals | undefined;
/** Installed for the process's life (the leafcert process itself), not per command (tests). */
let permanent = false;
/** A command that writes reports holds the handlers: a signal stops the run. */
let owned = false;
let scoped = 0;

function announce(sig: NodeJS.Signals): void {
  process.stderr.write(`leafcert: ${sig}: stopping, the run is interrupted: unfinished checks are reported as errors, exit 3\n`);
  controller.abort();
}

function onSignal(sig: NodeJS.Signals): void {
  if (received) {
    process.stderr.write(`leafcert: ${sig} again: exiting now, reports stay partial (complete=false), exit 3\n`);
    process.exit(3);
  }
  received = sig;
  if (owned) announce(sig);
}

function listen(): void {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function unlisten(): void {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

/** For the leafcert process itself: handlers for its whole life, installed as early as possible. */
export function installSignalHandlers(): void {
  if (permanent) return;
  permanent = true;
  if (scoped === 0) listen();
}

/**
 * The command about to run writes no reports: Node's default behaviour is back, and a signal
 * recorded during start-up ends the process as it would have.
 */
export function releaseSignals(): void {
  if (!permanent || owned) return;
  permanent = false;
  unlisten();
  if (received) process.kill(process.pid, received);
}

/**
 * The interruption of one command that writes reports. In the leafcert process this takes over
 * the process-wide handlers (a signal at start-up already counts, and is announced now); in-process
 * callers (tests) get handlers only for the command's duration and a fresh state each time.
 */
export function signalScope(): { signal: AbortSignal; release(): void } {
  if (permanent) {
    if (!owned) {
      owned = true;
      if (received) announce(received);
    }
    return { signal: controller.signal, release: () => undefined };
  }
  if (scoped++ === 0) {
    controller = new AbortController();
    received = undefined;
    owned = true;
    listen();
  }
  let released = false;
  return {
    signal: controller.signal,
    release() {
      if (released) return;
      released = true;
      if (--scoped === 0 && !permanent) {
        unlisten();
        received = undefined;
        owned = false;
      }
    },
  };
}

/**
 * Let a signal that arrived during synchronous work (reading a file) reach its handler. Two turns
 * of the event loop: from within an I/O callback the first immediate runs before the loop polls
 * again, the second only after it has.
 */
export async function signalsDelivered(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

/** The signal that interrupted this command, if any. */
export function interruptedBy(): NodeJS.Signals | undefined {
  return received;
}
