// The send dialog. Built into send-smtp-email.html by scripts/build.js.
import type { EditorNodeProperties, EditorWidgetTypedInputTypeDefinition } from 'node-red';
import type Quill from 'quill';
import type ImageFormat from 'quill/formats/image';
import { advancedSection, fillSelect, messages, showRows } from '../../editor/dialog';
import {
  ATTACHMENT_TYPES,
  CONTENT_ID,
  defaultValueType,
  DELIVER_MODES,
  HEADERS_VALUE_TYPES,
  PRIORITIES,
  SEND_DEFAULTS as DEFAULTS,
  STORE_TARGETS,
  TYPED_PROPERTIES,
  typeKey,
  VALUE_TYPES,
  type AttachmentType,
  type DeliverMode,
  type Priority,
  type StoreTarget,
  type TypedProperty,
  type TypeKey,
} from '../../shared/constants';
import { senderMissing } from '../../shared/sender';

type TypedValues = { [N in TypedProperty]: string } & { [N in TypedProperty as TypeKey<N>]: string };
interface SendProps extends EditorNodeProperties, TypedValues {
  connection: string;
  attachmentType: AttachmentType;
  attachmentMimeType: string;
  storeResult: StoreTarget;
  resultKey: string;
  stopOnError: boolean;
  priority: Priority;
  async: boolean;
  attachmentCid: string;
  deliver: DeliverMode;
  previewFromMsg: boolean;
}

/** The rows each attachment type needs; the source row's label and hint change with the type. */
const ATTACHMENT_ROWS: Record<AttachmentType, readonly string[]> = {
  none: [],
  url: ['value', 'filename', 'mime', 'cid'],
  text: ['value', 'filename', 'mime', 'cid'],
  base64: ['value', 'filename', 'mime', 'cid'],
  custom: ['value', 'filename', 'mime', 'cid'],
  // A pregenerated part is sent as written: its Content-ID header goes in the part itself.
  mime: ['value'],
};
/** The typed properties under Advanced: any value opens the section (their empty value is the default). */
const ADVANCED_TYPED = ['from', 'replyTo', 'inReplyTo', 'references', 'text', 'headers'] as const satisfies readonly TypedProperty[];
const MIME_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/;
// Node-RED serves the package's resources/ folder here (see scripts/build.js).
const RESOURCES = 'resources/@mailwire/node-red-send-smtp-email/';

type Validator = (this: unknown, v: unknown, opt?: unknown) => boolean | string;

/** A typed property's check: Node-RED's for its type; a required `str` must not be empty, an optional field of its default type may. */
function typed(name: TypedProperty, required = false) {
  const key = typeKey(name);
  const check = RED.validators.typedInput(key) as Validator;
  return function (this: Partial<SendProps>, v: string, opt?: unknown) {
    const type = this[key] || defaultValueType(name);
    if (required && type === 'str' && !String(v || '').trim()) return false;
    if (!required && !v && type === defaultValueType(name)) return true; // e.g. no custom headers: '' is not JSON
    return check.call(this, v, opt) as boolean;
  };
}

let quillLoading: JQuery.Promise<typeof Quill> | null = null;

/**
 * Loads Quill once, lazily: a <script src> that fails would freeze the editor at "Loading Nodes".
 * Quill's UMD wrapper registers itself as an AMD module when an AMD loader is present (the
 * Monaco editor brings one), so `define` is hidden while it runs and it sets window.Quill.
 */
function loadQuill(): JQuery.Promise<typeof Quill> {
  if (window.Quill) return $.Deferred<typeof Quill>().resolve(window.Quill).promise();
  if (!quillLoading) {
    if (!$('link#smtp-quill-css').length)
      $('<link id="smtp-quill-css" rel="stylesheet" type="text/css">')
        .attr('href', RESOURCES + 'quill.snow.css')
        .appendTo('head');
    const amd = window.define;
    window.define = undefined;
    const loading = $.ajax({ url: RESOURCES + 'quill.min.js', dataType: 'script', cache: true, timeout: 15000 })
      .always(() => {
        window.define = amd;
      })
      .then(() => (window.Quill ? window.Quill : $.Deferred<typeof Quill>().reject().promise())) as JQuery.Promise<typeof Quill>;
    loading.fail(() => {
      quillLoading = null; // try again next time the dialog opens
    });
    quillLoading = loading;
  }
  return quillLoading;
}

let cidImagesAllowed = false;

/**
 * Lets Quill keep inline images: its image format allows only http, https and data sources and
 * turns any other into `//:0`, which broke `<img src="cid:logo">`, the way a mail refers to an
 * attachment with that Content-ID (RFC 2392). Registered once, for every editor Quill makes.
 */
function allowCidImages(QuillEditor: typeof Quill): void {
  if (cidImagesAllowed) return;
  cidImagesAllowed = true;
  const Image = QuillEditor.import('formats/image') as typeof ImageFormat;
  class CidImage extends Image {
    static sanitize(url: string): string {
      return /^cid:/i.test(url.trim()) ? url : super.sanitize(url);
    }
  }
  QuillEditor.register(CidImage, true);
}

/** The sources of the images in some HTML, as written (parsed without loading any of them). */
function imageSources(html: string): string[] {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  return [...doc.querySelectorAll('img')].map((img) => img.getAttribute('src') || '');
}

/** Images of `html` that the rich editor's version of it no longer has as they were. */
function lostImages(html: string, rich: string): string[] {
  const kept = imageSources(rich);
  return imageSources(html).filter((src) => !kept.includes(src));
}

/** Quill's HTML, as a mail client expects it: empty when there is no text, no needless &nbsp;. */
function cleanHtml(quill: Quill): string {
  if (!quill.getText().trim() && !quill.root.querySelector('img')) return '';
  return quill
    .getSemanticHTML()
    .replace(/&nbsp;|\u00a0/g, ' ')
    .replace(/ {2,}/g, (s) => ' ' + '&nbsp;'.repeat(s.length - 1));
}

function sameHtml(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .replace(/&nbsp;|\u00a0/g, ' ')
      .replace(/>\s+</g, '><')
      .replace(/\s+/g, ' ')
      .trim();
  return norm(a) === norm(b);
}

/** The users of deployed connections, as GET credentials/smtp-oauth-config/<id> answered the dialog. */
const knownUsers = new Map<string, string>();

/**
 * A connection's user, the default sender, as far as the editor knows it: the credentials in the
 * editor (a connection edited in this session), else what a dialog asked for; undefined if unknown.
 * Method None shows no user field, so such a connection has none unless one is known.
 */
function connectionUser(id: string | undefined): string | undefined {
  const config = id ? (RED.nodes.node(id) as { authType?: string; credentials?: { user?: string } } | null) : null;
  if (!config) return undefined;
  const user = config.credentials?.user ?? knownUsers.get(id!);
  return user ?? (config.authType === 'none' ? '' : undefined);
}

/** The content the open dialog holds, read when it is saved. */
let readContent: (() => string) | undefined;

RED.nodes.registerType<SendProps>('send-smtp-email', {
  category: 'network',
  color: '#c0deed',
  defaults: {
    name: { value: '' },
    // A preview builds the mail without connecting, so it needs no connection (no warning triangle).
    connection: {
      value: '',
      type: 'smtp-oauth-config',
      validate(this: Partial<SendProps>, v: string) {
        if (!v || v === '_ADD_') return this.deliver === 'preview';
        const config = RED.nodes.node(v) as { valid?: boolean } | null;
        return !!config && config.valid !== false;
      },
    },
    to: { value: '', validate: typed('to', true) },
    toType: { value: 'str' },
    cc: { value: '', validate: typed('cc') },
    ccType: { value: 'str' },
    bcc: { value: '', validate: typed('bcc') },
    bccType: { value: 'str' },
    subject: { value: '', validate: typed('subject') },
    subjectType: { value: 'str' },
    html: { value: '', validate: typed('html') },
    htmlType: { value: 'str' },
    attachmentType: { value: DEFAULTS.attachmentType },
    attachment: {
      value: '',
      validate: function (v, opt?: unknown) {
        if ((this.attachmentType || 'none') === 'none') return true;
        return typed('attachment', true).call(this, v, opt);
      },
    },
    attachmentValueType: { value: 'str' },
    attachmentFilename: { value: '', validate: typed('attachmentFilename') },
    attachmentFilenameType: { value: 'str' },
    attachmentMimeType: {
      value: '',
      validate: function (v) {
        return !v || MIME_TYPE.test(v);
      },
    },
    storeResult: { value: DEFAULTS.storeResult },
    resultKey: {
      value: DEFAULTS.resultKey,
      validate: function (v) {
        if ((this.storeResult || 'none') === 'none') return true;
        if (!v) return false;
        return this.storeResult !== 'msg' || RED.utils.validatePropertyExpression(v);
      },
    },
    stopOnError: { value: DEFAULTS.stopOnError },
    from: {
      value: '',
      // No Custom From and a connection whose user is no address: the runtime would refuse every mail (EINPUT).
      validate: function (this: Partial<SendProps>, v: string, opt?: unknown) {
        if (senderMissing(v, this.fromType, connectionUser(this.connection))) return false;
        return typed('from').call(this, v, opt);
      },
    },
    fromType: { value: 'str' },
    replyTo: { value: '', validate: typed('replyTo') },
    replyToType: { value: 'str' },
    text: { value: '', validate: typed('text') },
    textType: { value: 'str' },
    priority: { value: DEFAULTS.priority },
    async: { value: DEFAULTS.async },
    headers: { value: '', validate: typed('headers') },
    headersType: { value: defaultValueType('headers') },
    inReplyTo: { value: '', validate: typed('inReplyTo') },
    inReplyToType: { value: 'str' },
    references: { value: '', validate: typed('references') },
    referencesType: { value: 'str' },
    attachmentCid: {
      value: DEFAULTS.attachmentCid,
      // Checked whatever the attachment type: the runtime refuses an invalid one even without an attachment.
      validate: function (v) {
        return !v || CONTENT_ID.test(v);
      },
    },
    deliver: { value: DEFAULTS.deliver },
    previewFromMsg: { value: DEFAULTS.previewFromMsg },
  },
  inputs: 1,
  outputs: 1,
  icon: 'font-awesome/fa-envelope',
  paletteLabel: function () {
    return this._('send-smtp-email.label.palette');
  },
  // Like the core nodes: the name, else what the node is. A subject would make the node as wide as the subject.
  label: function () {
    return this.name || this._('send-smtp-email.label.palette');
  },
  labelStyle: function () {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare: function () {
    const node = this;
    const t = messages(node, 'send-smtp-email');

    // Every typed property the dialog has a field for is a TypedInput; the content's has a rich-text editor besides (below).
    for (const name of TYPED_PROPERTIES) {
      const $input = $('#node-input-' + name);
      if (name === 'html' || !$input.length) continue;
      const types = name === 'headers' ? HEADERS_VALUE_TYPES : VALUE_TYPES;
      $input.typedInput({ default: defaultValueType(name), types: [...types], typeField: '#node-input-' + typeKey(name) });
    }
    fillSelect('node-input-attachmentType', ATTACHMENT_TYPES, (a) => t(`attachment.${a}`), node.attachmentType);
    fillSelect('node-input-storeResult', STORE_TARGETS, (s) => t(`store.${s}`), node.storeResult);
    fillSelect('node-input-priority', PRIORITIES, (p) => t(`priority.${p}`), node.priority);
    fillSelect('node-input-deliver', DELIVER_MODES, (d) => t(`deliver.${d}`), node.deliver);
    $('#node-input-resultKey').attr('placeholder', DEFAULTS.resultKey);

    // --- Sender: said under Connection before deploy, as soon as the connection's user is known.
    const $connection = $('#node-input-connection');
    const $from = $('#node-input-from');
    function showSenderWarning() {
      const id = String($connection.val() || '');
      const missing = senderMissing(String($from.typedInput('value') ?? ''), $from.typedInput('type'), connectionUser(id));
      $('#smtp-send-no-sender').toggle(missing);
    }
    function learnSender() {
      const id = String($connection.val() || '');
      if (!id || id === '_ADD_' || connectionUser(id) !== undefined) return showSenderWarning();
      // Only the text credentials come back (a password only as has_password).
      $.getJSON('credentials/smtp-oauth-config/' + encodeURIComponent(id)).done((c: { user?: string }) => {
        knownUsers.set(id, c.user || '');
        showSenderWarning();
      });
    }
    $connection.on('change', learnSender);
    $from.on('change', showSenderWarning);
    $('#smtp-send-no-sender-fix').on('click', (e) => {
      e.preventDefault();
      if (!$('#smtp-send-advanced').is(':visible')) $('#smtp-send-advanced-toggle').trigger('click');
      $from.closest('.form-row').find('input.red-ui-typedInput-input').trigger('focus');
    });
    learnSender();

    // --- Content: a rich-text editor for str, the TypedInput's field for every other type.
    const htmlType = node.htmlType || 'str';
    let html = htmlType === 'str' ? node.html || '' : '';
    let quill: Quill | null = null;
    let sourceView = false;
    const $source = $('#smtp-html-source');
    const $value = $('#smtp-html-value');
    $value.val(htmlType === 'str' ? '' : node.html || '');
    const rich: EditorWidgetTypedInputTypeDefinition = { value: 'str', label: t('content.rich'), icon: 'fa fa-paragraph', hasValue: false };
    $value.typedInput({ default: 'str', types: [rich, ...VALUE_TYPES.slice(1)], typeField: '#node-input-htmlType' });
    $source.val(html).on('input', () => {
      html = String($source.val());
    });

    function showSource(on: boolean, notice?: string) {
      sourceView = on;
      $('#smtp-html-editor').toggleClass('smtp-source-view', on);
      $('#smtp-html-toolbar .ql-formats:not(.smtp-keep)').toggleClass('smtp-disabled', on);
      $('#smtp-html-toolbar .ql-source')
        .toggleClass('ql-active', on)
        .attr('aria-pressed', on ? 'true' : 'false');
      $('#smtp-html-notice')
        .text(notice || '')
        .toggle(!!notice);
      if (on) {
        $source.val(html);
      } else if (quill) {
        quill.clipboard.dangerouslyPasteHTML(html, 'silent');
        quill.history.clear();
        // An image the rich editor cannot keep would be gone with the next edit: stay in HTML and say so.
        const lost = lostImages(html, cleanHtml(quill));
        if (lost.length) showSource(true, t('content.imagesKeptAsHtml', { images: lost.join(', ') }));
      }
    }

    function openRich(editor: Quill) {
      editor.clipboard.dangerouslyPasteHTML(html, 'silent');
      editor.history.clear();
      // Markup the rich editor cannot show (tables, styles) would be lost: keep it as HTML.
      if (html && !sameHtml(cleanHtml(editor), html)) showSource(true, t('content.keptAsHtml'));
      else showSource(false);
    }

    function showContentEditor() {
      $('#smtp-html-editor-row').toggle($value.typedInput('type') === 'str');
    }
    $value.on('change', showContentEditor);
    showContentEditor();

    const $editor = $('#smtp-html-editor');
    $editor.addClass('smtp-loading');
    loadQuill()
      .done((QuillEditor) => {
        $editor.removeClass('smtp-loading');
        allowCidImages(QuillEditor);
        const editor = new QuillEditor('#smtp-html-rich', {
          theme: 'snow',
          bounds: $editor[0],
          placeholder: t('content.placeholder'),
          modules: {
            toolbar: {
              container: '#smtp-html-toolbar',
              handlers: {
                source: () => showSource(!sourceView),
              },
            },
          },
        });
        quill = editor;
        // Quill's link tooltip takes its words from CSS: give it the translated ones.
        const css = (s: string) => JSON.stringify(s);
        $('#smtp-quill-i18n').remove();
        $('<style id="smtp-quill-i18n">')
          .text(
            `#smtp-html-editor .ql-snow .ql-tooltip::before{content:${css(t('content.visitUrl'))}}` +
              `#smtp-html-editor .ql-snow .ql-tooltip[data-mode=link]::before{content:${css(t('content.enterLink'))}}` +
              `#smtp-html-editor .ql-snow .ql-tooltip a.ql-action::after{content:${css(t('content.edit'))}}` +
              `#smtp-html-editor .ql-snow .ql-tooltip.ql-editing a.ql-action::after{content:${css(t('content.save'))}}` +
              `#smtp-html-editor .ql-snow .ql-tooltip a.ql-remove::before{content:${css(t('content.remove'))}}`,
          )
          .appendTo($editor);
        (editor.theme as unknown as { tooltip: { textbox: HTMLInputElement } }).tooltip.textbox.setAttribute(
          'data-link',
          'https://example.com',
        );
        editor.on('text-change', (_delta, _old, origin) => {
          if (origin === 'user') html = cleanHtml(editor);
        });
        openRich(editor);
        $editor.attr('data-editor', 'rich');
      })
      .fail(() => {
        // The plain textarea still edits the same HTML: nothing is lost without Quill.
        $editor.removeClass('smtp-loading').addClass('smtp-fallback').attr('data-editor', 'fallback');
        showSource(true, t('content.fallback'));
      });
    readContent = () => ($value.typedInput('type') === 'str' ? html : $value.typedInput('value'));

    // --- Attachment: exactly the rows the chosen type needs.
    const $attachmentType = $('#node-input-attachmentType');
    $attachmentType
      .on('change', () => {
        const type = (String($attachmentType.val() || '') || 'none') as AttachmentType;
        showRows('smtp-attachment', ATTACHMENT_ROWS[type] || []);
        if (type === 'none') return;
        $('#smtp-attachment-value-label').text(t(`attachment.valueLabel.${type}`));
        $('#smtp-attachment-value-hint').text(t(`attachment.valueHint.${type}`));
        $('#smtp-attachment-filename-hint').text(t(`attachment.filenameHint.${type}`));
        $('#smtp-attachment-mime-hint').text(t(type === 'custom' ? 'attachment.mimeHintCustom' : 'attachment.mimeHint'));
      })
      .trigger('change');

    // The Content-ID's hint shows the tag that refers to it, as typed. Built as text nodes around a
    // <code>, so that nothing typed becomes markup; the placeholder keeps each language's word order.
    const $cid = $('#node-input-attachmentCid');
    function showCidHint() {
      const cid = String($cid.val() || '');
      const tag = `<img src="cid:${cid || '…'}">`;
      const [before, after = ''] = t(cid ? 'attachment.cidHint' : 'attachment.cidHintEmpty', { tag: '\u0000' }).split('\u0000');
      $('#smtp-attachment-cid-hint').empty().append(document.createTextNode(before), $('<code>').text(tag), document.createTextNode(after));
    }
    $cid.on('input change', showCidHint);
    showCidHint();

    // --- Result & errors, and the asynchronous mode they depend on.
    const $store = $('#node-input-storeResult');
    const $async = $('#node-input-async');
    const $deliver = $('#node-input-deliver');
    function showResultRows() {
      const store = String($store.val() || 'none');
      const async = $async.prop('checked') as boolean;
      const preview = $deliver.val() === 'preview';
      $('.smtp-result-key').toggle(store !== 'none');
      $('#smtp-result-key-prefix')
        .text(store === 'msg' ? 'msg.' : '')
        .toggle(store === 'msg');
      $('#smtp-result-key-hint').text(store === 'none' ? '' : t(`result.keyHint.${store}`));
      $('#smtp-async-msg-warning').toggle(async && store === 'msg');
      $('#smtp-stop-hint').text(t(async ? 'result.stopHintAsync' : 'result.stopHint'));
      $('#node-input-stopOnError').prop('disabled', async);
      $('#smtp-async-hint').text(t(async ? 'advanced.asyncOn' : 'advanced.asyncOff'));
      $('#smtp-preview-hint').toggle(preview);
      // The .eml is only in the result: not stored, a preview ends nowhere.
      $('#smtp-preview-store-warning').toggle(preview && store === 'none');
    }
    $store.on('change', showResultRows);
    $async.on('change', showResultRows);
    $deliver.on('change', showResultRows);
    showResultRows();

    const advancedSet =
      ADVANCED_TYPED.some((name) => !!node[name]) ||
      (!!node.priority && node.priority !== DEFAULTS.priority) ||
      (!!node.deliver && node.deliver !== DEFAULTS.deliver) ||
      !!node.async ||
      !!node.previewFromMsg;
    advancedSection('smtp-send-advanced', t('section.advanced'), advancedSet);
  },
  oneditsave: function () {
    if (readContent) $('#node-input-html').val(readContent());
    readContent = undefined;
  },
  oneditcancel: function () {
    readContent = undefined;
  },
});

/**
 * The debug sidebar draws an error a send node reported through done() as a collapsed object and
 * cuts its message after about 30 characters, so the reason and the hint were out of sight. Each
 * such entry gets the whole message as a line of text above the object, which keeps its code and
 * stack. Node-RED 4's editor hook for debug messages; an editor without it shows the object alone.
 */
const hooks = (RED as unknown as { hooks?: { add(name: string, fn: (event: DebugEvent) => void): void } }).hooks;
hooks?.add('debugPostProcessMessage.send-smtp-email', ({ message, element, payload }) => {
  if (!element || message?.type !== 'send-smtp-email' || !/error/i.test(String(message.format))) return;
  // An error arrives encoded ({__enc__, type: 'error', data: {name, message, code, stack}}) or already decoded.
  const encoded = payload as { __enc__?: boolean; data?: unknown } | undefined;
  const error = (encoded?.__enc__ ? encoded.data : encoded) as { message?: unknown } | undefined;
  if (typeof error?.message !== 'string' || !error.message) return;
  element.find('.red-ui-debug-msg-payload').first().before($('<div class="smtp-debug-line">').text(error.message));
});

/** What Node-RED's debugPostProcessMessage hook is given (@node-red/nodes debug-utils.js). */
interface DebugEvent {
  message?: { type?: string; format?: string };
  element?: JQuery;
  payload?: unknown;
}
