import crypto from 'node:crypto';
import { readServiceAccountKey, type ServiceAccountFields } from '../../shared/service-account';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text } from '../errors/texts';

/** A Google service account's key file, read and checked: its fields, and the private key ready to sign. */
export interface ServiceAccountKey extends Omit<ServiceAccountFields, 'privateKey'> {
  /** The RSA private key: signs, and is never exported, logged or quoted. */
  key: crypto.KeyObject;
}

/**
 * The token URI may be http only for a server on this machine (a test endpoint), as Graph URLs are
 * checked: the signed assertion is good for an hour, and a token sent in clear text is anyone's.
 */
const LOOPBACK_HTTP = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/i;

/**
 * Reads the content of a service account's JSON key file once, when the connection is built: valid
 * JSON of `type` service_account, with `client_email`, an RSA `private_key` in PEM (RS256 is RSA
 * only) and an https `token_uri`. Anything else is an ECONFIG error that says what is missing and
 * where to get a new key; no message or hint quotes the file, and OpenSSL's errors are not kept.
 */
export function serviceAccountKey(json: string | undefined): ServiceAccountKey {
  const read = readServiceAccountKey(json);
  if ('problem' in read) throw invalid(read.problem);
  const { privateKey, ...fields } = read.fields;
  if (!/^https:\/\//i.test(fields.tokenUri) && !LOOPBACK_HTTP.test(fields.tokenUri)) throw invalid('plainTokenUri');
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: privateKey, format: 'pem' });
  } catch {
    throw invalid('badPrivateKey');
  }
  if (key.asymmetricKeyType !== 'rsa') throw invalid('badPrivateKey');
  return { ...fields, key };
}

/** A configuration error of the key file: `errors.serviceAccount.<what>` with `hints.serviceAccount.<what>`. */
function invalid(what: string): MailError {
  return mailError(ErrorCodes.ECONFIG, text(`errors.serviceAccount.${what}`), text(`hints.serviceAccount.${what}`));
}
