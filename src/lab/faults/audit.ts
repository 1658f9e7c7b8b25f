// Audit has no lab fault: the kernel's audit subsystem and AppArmor are not namespaced, so a lab
// node cannot have its own (changing them would change the host's kernel). The audit suite skips
// on the lab with that reason; each finding is proven by fixture tests of NixOS output instead
// (test/audit.test.ts), and test/audit.lab.test.ts shows the lab result is `skipped`, never pass.
import type { Fault } from './types.js';

export const faults: Fault[] = [];
