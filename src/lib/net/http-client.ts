import type { AxiosStatic } from 'axios';

let loaded: AxiosStatic | undefined;

/**
 * axios, loaded on first use. Requiring it takes about 22 ms, as long as loading the rest of the
 * package, and a flow needs it only to fetch a token or download an attachment.
 */
export function httpClient(): AxiosStatic {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy require, for the start time above
  return (loaded ??= require('axios') as AxiosStatic);
}

/** The host of a URL, as an error names it; the text itself when it is no URL. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Whether a request that got no answer ran out of time: axios' time-out, or the socket's. */
export const timedOut = (e: NodeJS.ErrnoException): boolean => e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT';
