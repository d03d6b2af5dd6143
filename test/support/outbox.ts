// What the outbox tests look at from outside: the connection's folder in the test's user
// directory, and the outcomes the send node is given for mails whose msg no longer waits.
import fs from 'node:fs';
import path from 'node:path';
import type { Outcome } from '../../src/lib/delivery/outcome';
import type { SpoolRecord } from '../../src/lib/delivery/spool';
import type { OutcomeReceiver } from '../../src/nodes/smtp-oauth-config/types';
import { currentUserDir, type Msg, type TestNode } from './flow';

/** The outbox folder of the connection `conn` in the current test's user directory. */
export const outboxDir = (): string => path.join(currentUserDir(), 'smtp-outbox', 'conn');

/** The files in an outbox folder, sorted; none when it does not exist. */
export const outboxFiles = (dir = outboxDir()): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

/** An outcome a send node was given for a mail whose msg no longer waits for it, with the msg the mail kept. */
export interface Report {
  msg: Msg;
  outcome: Outcome;
  record: SpoolRecord;
}

/** Collects the outcomes a send node is given for mails whose msg no longer waits (after a redeploy). */
export function reports(sendNode: TestNode): { got: Report[]; until(n: number): Promise<Report[]> } {
  const got: Report[] = [];
  const waiters: { n: number; resolve: (got: Report[]) => void }[] = [];
  const node = sendNode as TestNode & OutcomeReceiver;
  const report = node.reportOutcome;
  node.reportOutcome = function (...args) {
    const [msg, outcome, record] = args;
    got.push({ msg: msg as Msg, outcome, record });
    for (const w of [...waiters]) {
      if (got.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(got);
      }
    }
    return report.apply(this, args);
  };
  return { got, until: (n) => (got.length >= n ? Promise.resolve(got) : new Promise((resolve) => waiters.push({ n, resolve }))) };
}
