import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** The folder of the outboxes in Node-RED's user directory. */
export const OUTBOX_ROOT = 'smtp-outbox';

/** A connection's folder: its id where that is a plain name, else a hash of it (a flow file can hold any id). */
export function outboxFolder(id: string): string {
  return /^[A-Za-z0-9_-]{1,100}$/.test(id) ? id : `id-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/** Outbox folders under `root` that hold mails but belong to none of `connections`, with how many mails each holds. */
export async function orphanedOutboxes(root: string, connections: Set<string>): Promise<{ dir: string; count: number }[]> {
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  const known = new Set([...connections].map(outboxFolder));
  const out: { dir: string; count: number }[] = [];
  for (const name of names.sort()) {
    if (known.has(name)) continue;
    const dir = path.join(root, name);
    const files = await fsp.readdir(dir).catch(() => [] as string[]);
    const count = files.filter((f) => f.endsWith('.json')).length;
    if (count) out.push({ dir, count });
  }
  return out;
}
