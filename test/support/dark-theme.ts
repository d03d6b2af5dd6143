// Node-RED 5's dark theme for the editor tests, and the contrast they measure in it. Node-RED 5
// turns it on from a user setting (localStorage 'view-dark-theme' = 'dark' before the page loads),
// which adds the class nr-theme-dark to <html>; its stylesheet then redefines the --red-ui-* colour
// variables for html.nr-theme-dark. test/editor/dark-theme.test.ts runs the real one on Node-RED 5;
// Node-RED 4.1 (test/editor/editor.test.ts) has no dark theme, so there the same variables, with
// Node-RED 5.0.7's values, are set the same way.
import type { Page } from 'playwright-core';

/** The colour variables of html.nr-theme-dark in Node-RED 5.0.7 that the edit tray, its forms and the workspace use. */
export const NODE_RED_5_DARK: Record<string, string> = {
  'primary-background': '#15151a',
  'secondary-background': '#1b1b23',
  'secondary-background-selected': '#22222c',
  'secondary-background-hover': '#1e1e27',
  'secondary-background-disabled': '#13131a',
  'tertiary-background': '#17171d',
  'primary-text-color': '#f0f0f0',
  'secondary-text-color': '#aaaaaa',
  'tertiary-text-color': '#9a9a9a',
  'header-text-color': '#e0e0e0',
  'text-color-error': '#ff6369',
  'text-color-warning': '#f1a10d',
  'text-color-success': '#4cc38a',
  'text-color-code': '#00d4c8',
  'text-color-link': '#e84a4a',
  'primary-border-color': '#252527',
  'secondary-border-color': '#252527',
  'tertiary-border-color': '#2a2a2c',
  'border-color-error': '#e5484d',
  'border-color-warning': '#e2a336',
  'border-color-success': '#30a46c',
  shadow: 'rgba(0, 0, 0, 0.7)',
  'shade-color': 'rgba(0, 0, 0, 0.45)',
  'form-background': '#1b1b23',
  'form-placeholder-color': '#8a8a8a',
  'form-text-color': '#f0f0f0',
  'form-text-color-disabled': '#7a7a7b',
  'form-input-focus-color': '#e84a4a',
  'form-input-border-color': '#2a2a2c',
  'form-input-border-selected-color': '#e84a4a',
  'form-input-border-error-color': '#e5484d',
  'form-input-background': '#0e0e12',
  'form-input-background-disabled': '#15151a',
  'form-button-background': '#22222c',
  'form-tips-background': '#120c00',
  'list-item-color': '#f0f0f0',
  'list-item-background': '#1b1b23',
  'list-item-background-hover': '#1e1e27',
  'list-item-background-selected': '#22222c',
  'tab-background': '#1b1b23',
  'tab-background-active': '#1b1b23',
  'tab-background-selected': '#22222c',
  'tab-background-inactive': '#15151a',
  'tab-text-color-active': '#e0e0e0',
  'tab-text-color-inactive': '#808080',
  'palette-header-background': '#0e0e12',
  'palette-header-color': '#e0e0e0',
  'palette-content-background': '#1b1b23',
  'workspace-button-background': '#15151a',
  'workspace-button-background-hover': '#1e1e27',
  'workspace-button-color': '#aaaaaa',
  'header-background': '#0e0e12',
  'popover-background': '#15151a',
  'popover-border': '#252527',
  'popover-color': '#f0f0f0',
  'view-background': '#0e0e12',
  'view-grid-color': '#282828',
  'node-border': '#888888',
  'node-port-background': '#b8b8b8',
  'node-selected-color': '#e84a4a',
};

/** Asks for the dark theme as a Node-RED 5 user does; call before the editor page loads. */
export async function preferDarkTheme(page: Page): Promise<void> {
  await page.addInitScript(() => window.localStorage.setItem('view-dark-theme', 'dark'));
}

/**
 * After the editor loaded: on Node-RED 5 the theme is already on; on 4.1 adds Node-RED 5's dark
 * variables under the same selector. Resolves with 'native' or 'emulated'.
 */
export async function applyDarkTheme(page: Page): Promise<'native' | 'emulated'> {
  return page.evaluate((vars) => {
    const html = document.documentElement;
    if (html.classList.contains('nr-theme-dark')) return 'native';
    const style = document.createElement('style');
    style.id = 'test-nr5-dark-theme';
    style.textContent = `html.nr-theme-dark{color-scheme:dark;${Object.entries(vars)
      .map(([k, v]) => `--red-ui-${k}:${v};`)
      .join('')}}`;
    document.head.appendChild(style);
    html.classList.add('nr-theme-dark');
    return 'emulated';
  }, NODE_RED_5_DARK);
}

/** An opaque colour: sRGB channels, 0-255. */
export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** A colour with its alpha, 0-1. */
export interface Rgba extends Rgb {
  a: number;
}

/** sRGB channels (0-255) and alpha of a CSS rgb()/rgba() colour as getComputedStyle gives it. */
export function parseColor(css: string): Rgba {
  const m = /^rgba?\(([^)]+)\)$/.exec(String(css).trim());
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  const [r, g, b, a = 1] = m[1]
    .split(/[\s,/]+/)
    .filter(Boolean)
    .map(Number);
  return { r, g, b, a };
}

/** A stack of background colours, innermost first, flattened into the colour the eye sees. */
export function effectiveBackground(stack: string[]): Rgb {
  let out: Rgb = { r: 255, g: 255, b: 255 };
  for (const css of [...stack].reverse()) {
    const c = parseColor(css);
    out = { r: c.r * c.a + out.r * (1 - c.a), g: c.g * c.a + out.g * (1 - c.a), b: c.b * c.a + out.b * (1 - c.a) };
  }
  return out;
}

/** WCAG 2.x relative luminance (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance). */
function luminance({ r, g, b }: Rgb): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2.x contrast ratio of two opaque colours, from 1 to 21. */
export function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** A mark of the toolbar (an icon's stroke or fill, a label's text): what it is and its CSS colour. */
export interface Mark {
  what: string;
  color: string;
}

/** What toolbarContrast measured; ratios are rounded to two decimals. */
export interface ToolbarContrast {
  /** The colour behind the toolbar. */
  background: Rgb;
  /** How many marks were measured. */
  marks: number;
  /** The mark with the lowest contrast. */
  weakest: Mark & { ratio: number };
  /** The editor area's text against its background. */
  editorText: { color: string; background: Rgb; ratio: number };
}

/**
 * The WCAG contrast of every mark in the open send dialog's content toolbar (each icon's SVG stroke
 * or fill, the heading picker's label, the Source button's text) against the colour behind the
 * toolbar: its background and its ancestors', composited by alpha. Resolves with
 * { background, marks, weakest: { what, color, ratio }, editorText: { color, background, ratio } }.
 */
export async function toolbarContrast(page: Page): Promise<ToolbarContrast> {
  // This function runs in the page. It names no function inside: tsx (esbuild with keepNames)
  // would wrap a named one in its __name() helper, which the page does not have.
  const seen = await page.locator('#smtp-html-toolbar').evaluate((bar) => {
    const editor = document.querySelector('#smtp-html-rich .ql-editor')!;
    // The background colours of the toolbar and of the editor area, each from the element outwards.
    const [barBackgrounds, editorBackgrounds] = [bar, editor].map((start) => {
      const backgrounds: string[] = [];
      for (let el: Element | null = start; el; el = el.parentElement) {
        const bg = getComputedStyle(el).backgroundColor;
        backgrounds.push(bg);
        if (/^rgb\(/.test(bg)) break; // opaque: nothing behind it shows
      }
      return backgrounds;
    });
    // Strokes and fills count where they are shown (width > 0), named after their button or picker.
    return {
      backgrounds: barBackgrounds,
      marks: [
        ...[...bar.querySelectorAll('.ql-stroke, .ql-stroke-miter')]
          .filter((el) => el.getBoundingClientRect().width > 0)
          .map((el) => ({ what: `stroke in ${el.closest('button, .ql-picker')!.className}`, color: getComputedStyle(el).stroke })),
        ...[...bar.querySelectorAll('.ql-fill')]
          .filter((el) => el.getBoundingClientRect().width > 0)
          .map((el) => ({ what: `fill in ${el.closest('button, .ql-picker')!.className}`, color: getComputedStyle(el).fill })),
        ...[...bar.querySelectorAll('.ql-picker-label, button.ql-source')].map((el) => ({
          what: `text of ${el.className}`,
          color: getComputedStyle(el).color,
        })),
      ],
      editor: { color: getComputedStyle(editor).color, backgrounds: editorBackgrounds },
    };
  });
  const background = effectiveBackground(seen.backgrounds);
  const ratios = seen.marks.map((m) => ({ ...m, ratio: contrast(parseColor(m.color), background) }));
  const weakest = ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  const editorBackground = effectiveBackground(seen.editor.backgrounds);
  return {
    background,
    marks: ratios.length,
    weakest: { ...weakest, ratio: Number(weakest.ratio.toFixed(2)) },
    editorText: {
      color: seen.editor.color,
      background: editorBackground,
      ratio: Number(contrast(parseColor(seen.editor.color), editorBackground).toFixed(2)),
    },
  };
}
