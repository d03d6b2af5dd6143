// What both edit dialogs do the same way. Their shared look is src/editor/dialog.css.

/** A node's translator, as Node-RED gives it to the dialog (`this._`). */
export type Translate = (key: string, options?: Record<string, string | number>) => string;

/** A translator for one node's message catalogue: `t('label.to')` reads `<type>.label.to`. */
export function messages(node: { _: Translate }, type: string): Translate {
  return (key, options) => node._(`${type}.${key}`, options);
}

/**
 * Fills a <select> from a list of values, each labelled through a message key, and selects the
 * node's value: Node-RED sets the value before oneditprepare, when the options did not exist yet.
 */
export function fillSelect(id: string, values: readonly string[], label: (value: string) => string, selected: string | undefined): void {
  const $select = $('#' + id).empty();
  for (const value of values) $('<option>').val(value).text(label(value)).appendTo($select);
  $select.val(selected || values[0]);
}

/**
 * Shows the rows of a group that a choice needs: every row of the group has the class `<group>`,
 * and the class `<group>-<name>` says which name it belongs to.
 */
export function showRows(group: string, names: readonly string[]): void {
  $('.' + group).hide();
  for (const name of names) $(`.${group}-${name}`).show();
}

/**
 * The collapsible Advanced part of a dialog, `#<id>`: adds its heading, a link `#<id>-toggle` that
 * opens and closes it. It starts open when it holds values other than the defaults, so that
 * nothing set there is hidden.
 */
export function advancedSection(id: string, title: string, open: boolean): void {
  const $body = $('#' + id);
  const $caret = $('<i class="fa fa-caret-right"></i>');
  const $toggle = $('<a href="#">').attr('id', `${id}-toggle`).append($caret, ' ', $('<span>').text(title));
  $('<div class="smtp-section">').append($toggle).insertBefore($body);
  const show = (on: boolean) => {
    $body.toggle(on);
    $caret.toggleClass('fa-caret-right', !on).toggleClass('fa-caret-down', on);
  };
  $toggle.on('click', (e) => {
    e.preventDefault();
    show(!$body.is(':visible'));
  });
  show(open);
}

/** Whether a dialog field holds something other than its default (an empty field means the default). */
export function changed(id: string, defaultValue: unknown): boolean {
  const value = String($('#' + id).val() ?? '').trim();
  return value !== '' && value !== String(defaultValue);
}

/**
 * Asks the runtime's admin API for JSON in the editor's language (the answer's errors and hints
 * may differ from the runtime's); with a body, as a JSON POST, which a cross-site form cannot send.
 */
export function askRuntime(url: string, body?: unknown): JQuery.jqXHR {
  const post = body === undefined ? {} : { method: 'POST', contentType: 'application/json', data: JSON.stringify(body) };
  return $.ajax({ url, dataType: 'json', headers: { 'Accept-Language': RED.i18n.lang() }, ...post });
}
