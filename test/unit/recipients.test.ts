// Who of a mail's recipients the server accepted, refused for good or deferred, over the attempts:
// what the next attempt is sent to, and what the result reports.
import assert from 'node:assert/strict';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { advance, owedOf, Recipients, verdictOfRefusal, verdictOfSent } from '../../src/lib/delivery/recipients';

describe('recipients', function () {
  /** nodemailer's error for one recipient's RCPT TO answer. */
  const refusal = (recipient: string, response: string) =>
    Object.assign(new Error(`Recipient command failed: ${response}`), {
      code: 'EENVELOPE',
      command: 'RCPT TO',
      response,
      responseCode: Number(response.slice(0, 3)),
      recipient,
    });
  const info = (to: string[], accepted: string[], refusals: ReturnType<typeof refusal>[]) =>
    ({
      envelope: { from: 's@example.com', to },
      accepted,
      rejected: refusals.map((r) => r.recipient),
      rejectedErrors: refusals,
      response: '250 Queued',
      messageId: '<id@example.com>',
    }) as unknown as SMTPPool.SentMessageInfo;

  it('splits an accepted attempt into accepted, refused for good and deferred', function () {
    const verdict = verdictOfSent(
      info(['a', 'b', 'c'], ['a'], [refusal('b', '550 5.1.1 User unknown'), refusal('c', '452 4.2.2 Mailbox full')]),
    );
    assert.deepEqual([verdict.accepted, verdict.rejected, verdict.deferred.map((e) => e.recipient)], [['a'], ['b'], ['c']]);
    const progress = advance(undefined, ['a', 'b', 'c'], verdict, '250 Queued');
    assert.deepEqual(owedOf(progress), ['c']);
    assert.deepEqual(owedOf(advance(progress, ['c'], { accepted: ['c'], rejected: [], deferred: [] })), []);
  });

  it('reads a refusal of every recipient, and nothing from any other failure', function () {
    const all = Object.assign(new Error("Can't send mail - all recipients were rejected"), {
      code: 'EENVELOPE',
      command: 'RCPT TO',
      rejected: ['b', 'c'],
      rejectedErrors: [refusal('b', '550 5.1.1 User unknown'), refusal('c', '451 4.7.1 Greylisted')],
    });
    const verdict = verdictOfRefusal(all)!;
    assert.deepEqual([verdict.accepted, verdict.rejected, verdict.deferred.map((e) => e.recipient)], [[], ['b'], ['c']]);
    assert.equal(verdictOfRefusal(Object.assign(new Error('Message failed'), { code: 'EMESSAGE', responseCode: 451 })), undefined);
  });

  it('sends the next attempt to the recipients still owed only, keeping the sender, and adds up the result', function () {
    const recipients = new Recipients();
    const envelope = { from: 's@example.com', to: ['a', 'b'] };
    assert.equal(recipients.narrow(envelope), envelope, 'unchanged until an attempt split the recipients');
    const deferredErr = recipients.sent(info(['a', 'b'], ['a'], [refusal('b', '451 4.7.1 Greylisted')]));
    assert.equal(deferredErr?.recipient, 'b');
    assert.deepEqual(recipients.narrow(envelope), { from: 's@example.com', to: ['b'] });
    assert.equal(recipients.delivered, true);
    // Given up: b is owed, with its answer.
    assert.deepEqual(
      recipients.undelivered(new Error('the last error')).map((u) => [u.recipients, u.error.response]),
      [[['b'], '451 4.7.1 Greylisted']],
    );
    const result = recipients.result(2);
    assert.deepEqual([result.accepted, result.rejected, result.envelope.to, result.attempts], [['a'], ['b'], ['a', 'b'], 2]);
  });
});
