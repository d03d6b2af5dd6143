// Whether a send node has a sender, for the dialog to say so before deploy: the runtime refuses a
// mail without one (EINPUT, errors.message.noSender), and the default sender is the connection's user.

/** An address as the runtime's check takes it (src/lib/message/addresses.ts), alone or as `Name <address>`. */
const ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+$/;

/** Whether a connection's user can be the From address. */
export function isSenderAddress(user: string | undefined): boolean {
  const value = String(user ?? '').trim();
  const named = /<([^<>]*)>\s*$/.exec(value);
  return ADDRESS.test(named ? named[1].trim() : value);
}

/**
 * Whether a send node lacks a sender: Custom From is an empty text and the connection's user is not
 * an address. `user` is undefined while the dialog does not know it (the credentials of a deployed
 * connection are not in the editor until asked for): then nothing is flagged.
 */
export function senderMissing(from: string | undefined, fromType: string | undefined, user: string | undefined): boolean {
  if ((fromType || 'str') !== 'str' || String(from ?? '').trim()) return false;
  return user !== undefined && !isSenderAddress(user);
}
