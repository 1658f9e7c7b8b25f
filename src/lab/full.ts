import type { LabNodeInfo } from './types.js';
export async function setupFullNode(_state: string, _id: string, _node: LabNodeInfo, _log: (l: string) => void): Promise<void> {}
