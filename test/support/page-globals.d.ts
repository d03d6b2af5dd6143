// Globals of Node-RED's editor page, for the functions browser tests hand to page.evaluate and
// addInitScript: those run in the page, not in Node. Typed loosely on purpose: the tests read
// the editor's state as a user's script would, not through its internal types.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const RED: any;
declare const $: any;
