import assert from 'node:assert/strict';
import { isHandedOver, type HandedOver, type SentInfo } from '../../src/lib/connection';

/** A send that must end with the server's answer: not handed over to a later start. */
export async function delivered(sending: Promise<SentInfo | HandedOver>): Promise<SentInfo> {
  const result = await sending;
  assert.ok(!isHandedOver(result), 'the mail was handed over to a later start instead of sent');
  return result;
}
