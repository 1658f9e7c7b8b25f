// Concurrency the harness can serve. `--concurrency` is a ceiling, not a demand: nodes run at once
// only as far as the event loop stays prompt and the CPU has room, measured while the run goes on.
// On a saturated box more sessions only queue, and queued handshakes and latency samples time
// out: false verdicts (issue 15). Additive increase while there is room, multiplicative decrease
// when the event loop lags, one step down while the CPU stays pegged and the loop slows.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { availableParallelism, cpus } from 'node:os';

export interface LoadSample {
  /** The event loop's worst delay in the last interval (p99, ms). */
  lagMs: number;
  /** Share of the machine's CPU time that was busy in the last interval, 0..1 (every process, not just ours). */
  cpuBusy: number;
}

export interface AdaptiveOptions {
  /** The most tasks at once (--concurrency). */
  ceiling: number;
  /** Never fewer at once than this (default: min(ceiling, cores)). */
  floor?: number;
  /** First limit (default: min(ceiling, max(4, 2 × cores))). */
  start?: number;
  intervalMs?: number;
  /** Tests pass a scripted load; default measures this process's event loop and the machine's CPU. */
  sample?: () => LoadSample;
}

export interface LoadReport {
  ceiling: number;
  /** Limits the controller used, lowest and highest, and the last. */
  minLimit: number;
  maxLimit: number;
  finalLimit: number;
  /** Most tasks that actually ran at once. */
  peakActive: number;
  maxLagMs: number;
  meanCpuBusy: number;
  samples: number;
}

/** Lag above this: the harness itself is the bottleneck; back off hard. */
export const LAG_HIGH_MS = 150;
/** Room to grow: lag below this and CPU below CPU_ROOM. */
export const LAG_LOW_MS = 50;
export const CPU_ROOM = 0.85;
export const CPU_PEGGED = 0.97;

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    total += t;
    busy += t - c.times.idle;
  }
  return { busy, total };
}

/** The real load: event-loop delay (perf_hooks) and the machine's CPU (os.cpus() deltas). */
export function loadMeter(): { sample(): LoadSample; stop(): void } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let last = cpuTimes();
  return {
    sample() {
      const lagMs = h.count ? h.percentile(99) / 1e6 : 0;
      h.reset();
      const now = cpuTimes();
      const total = now.total - last.total;
      const cpuBusy = total > 0 ? (now.busy - last.busy) / total : 0;
      last = now;
      return { lagMs, cpuBusy };
    },
    stop: () => h.disable(),
  };
}

export function cores(): number {
  try {
    return availableParallelism();
  } catch {
    return cpus().length || 1;
  }
}

/** Next limit from the current one and a load sample. Pure, so the policy is tested without a clock. */
export function nextLimit(limit: number, s: LoadSample, o: { ceiling: number; floor: number; pegged: number; waiting: boolean }): number {
  if (s.lagMs > LAG_HIGH_MS) return Math.max(o.floor, Math.floor(limit * 0.7));
  // Two pegged intervals in a row and the event loop feels it: more at once only queues. (A box
  // pegged by others while our loop stays prompt is no reason to give up our share.)
  if (o.pegged >= 2 && s.cpuBusy >= CPU_PEGGED && s.lagMs >= LAG_LOW_MS) return Math.max(o.floor, limit - 1);
  if (o.waiting && s.lagMs < LAG_LOW_MS && s.cpuBusy < CPU_ROOM) return Math.min(o.ceiling, limit + Math.max(1, Math.floor(limit / 4)));
  return limit;
}

/** A limiter (as limit.ts) whose bound follows the load; `stop()` ends its measuring. */
export class AdaptiveLimiter {
  limit: number;
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private readonly ceiling: number;
  private readonly floor: number;
  private readonly meter?: { sample(): LoadSample; stop(): void };
  private readonly sample: () => LoadSample;
  private timer?: NodeJS.Timeout;
  private pegged = 0;
  private readonly stats: LoadReport;
  private busySum = 0;

  constructor(o: AdaptiveOptions) {
    const n = cores();
    this.ceiling = Math.max(1, o.ceiling);
    this.floor = Math.max(1, Math.min(this.ceiling, o.floor ?? n));
    this.limit = Math.max(this.floor, Math.min(this.ceiling, o.start ?? Math.max(4, 2 * n)));
    if (o.sample) this.sample = o.sample;
    else {
      this.meter = loadMeter();
      this.sample = () => this.meter!.sample();
    }
    this.stats = { ceiling: this.ceiling, minLimit: this.limit, maxLimit: this.limit, finalLimit: this.limit, peakActive: 0, maxLagMs: 0, meanCpuBusy: 0, samples: 0 };
    // A ceiling at or under the floor leaves nothing to adapt.
    if (this.ceiling > this.floor) {
      this.timer = setInterval(() => this.tick(), o.intervalMs ?? 250);
      this.timer.unref();
    }
  }

  private tick(): void {
    const s = this.sample();
    this.pegged = s.cpuBusy >= CPU_PEGGED ? this.pegged + 1 : 0;
    this.limit = nextLimit(this.limit, s, { ceiling: this.ceiling, floor: this.floor, pegged: this.pegged, waiting: this.queue.length > 0 });
    const st = this.stats;
    st.samples++;
    this.busySum += s.cpuBusy;
    st.meanCpuBusy = Math.round((this.busySum / st.samples) * 100) / 100;
    st.maxLagMs = Math.max(st.maxLagMs, Math.round(s.lagMs));
    st.minLimit = Math.min(st.minLimit, this.limit);
    st.maxLimit = Math.max(st.maxLimit, this.limit);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.limit && this.queue.length) {
      this.active++;
      this.stats.peakActive = Math.max(this.stats.peakActive, this.active);
      this.queue.shift()!();
    }
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            this.active--;
            this.pump();
          });
      });
      this.pump();
    });
  }

  stop(): LoadReport {
    if (this.timer) clearInterval(this.timer);
    this.meter?.stop();
    return { ...this.stats, finalLimit: this.limit };
  }
}
