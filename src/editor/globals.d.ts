// The browser globals the editor code uses: Node-RED's RED (typed by @types/node-red, which
// brings @types/node-red__editor-client and @types/jquery), and what the rich-text editor sets.
import type { EditorRED } from 'node-red';
import type Quill from 'quill';

declare global {
  const RED: EditorRED;
  interface Window {
    /** Set by resources/quill.min.js once loaded. */
    Quill?: typeof Quill;
    /** An AMD loader's define (Monaco brings one); hidden while Quill loads. */
    define?: unknown;
  }
}
