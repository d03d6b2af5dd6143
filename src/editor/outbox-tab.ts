// The editor's Outbox sidebar tab: every connection's waiting mails, with Retry now and Delete,
// as `mailq`, `postqueue -f` and `postsuper -d` are for Postfix's queue. Built into
// smtp-oauth-config.html with the connection dialog.
import type { ConnectionOutbox } from '../shared/outbox-list';
import { askRuntime } from './dialog';

/** While the tab is shown, its list is read again this often. */
const REFRESH_MS = 5000;

const size = (bytes: number) =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const time = (ms: number) => new Date(ms).toLocaleTimeString();

/** Adds the Outbox tab to the sidebar; `_` translates the connection node's message keys. */
export function addOutboxTab(_: (key: string, options?: Record<string, unknown>) => string): void {
  const canAct = () => !RED.user || RED.user.hasPermission('smtp-oauth-config.write');
  const content = $('<div class="smtp-outbox"></div>');
  const toolbar = $('<div class="smtp-outbox-toolbar"></div>');
  const refreshButton = $(
    '<button type="button" class="red-ui-sidebar-header-button" id="smtp-outbox-refresh"><i class="fa fa-refresh"></i></button>',
  )
    .attr('title', _('smtp-oauth-config.outbox.refresh'))
    .appendTo(toolbar);
  const list = $('<div class="smtp-outbox-list" id="smtp-outbox-list"></div>').appendTo(content);
  $('<div class="smtp-outbox-help"></div>').text(_('smtp-oauth-config.outbox.help')).appendTo(content);
  let timer: ReturnType<typeof setInterval> | undefined;

  function act(connection: string, action: 'retry' | 'delete', mail?: string) {
    askRuntime(`smtp-oauth-config/outbox/${encodeURIComponent(connection)}/${action}`, mail ? { mail } : {})
      .done((r: { count: number }) =>
        RED.notify(_(`smtp-oauth-config.outbox.${action}Done`, { count: r.count }), { type: 'success', timeout: 3000 }),
      )
      .fail((xhr) => RED.notify(_('smtp-oauth-config.outbox.failed', { status: xhr.status }), 'error'))
      .always(refresh);
  }

  /** Delete fails the mails' msgs and cannot be undone: it asks first, as Node-RED asks before deleting a flow. */
  function confirmDelete(count: number, go: () => void) {
    // The element Node-RED returns has close() (notifications.js), which its types leave out.
    const note = RED.notify(_('smtp-oauth-config.outbox.confirmDelete', { count }), {
      modal: true,
      fixed: true,
      type: 'warning',
      buttons: [
        { text: RED._('common.label.cancel'), class: 'smtp-outbox-cancel-delete', click: () => note.close() },
        {
          text: _('smtp-oauth-config.outbox.delete'),
          class: 'primary smtp-outbox-confirm-delete',
          click: () => {
            note.close();
            go();
          },
        },
      ],
    }) as HTMLDivElement & { close(): void };
  }

  function button(icon: string, label: string, onClick: () => void) {
    return $('<button type="button" class="red-ui-button red-ui-button-small"></button>')
      .append($('<i>').addClass(`fa ${icon}`), ' ', $('<span>').text(label))
      .prop('disabled', !canAct())
      .on('click', (e) => {
        e.preventDefault();
        onClick();
      });
  }

  function render(connections: ConnectionOutbox[]) {
    list.empty();
    if (!connections.length) $('<div class="smtp-outbox-empty"></div>').text(_('smtp-oauth-config.outbox.noConnections')).appendTo(list);
    for (const c of connections) {
      const section = $('<div class="smtp-outbox-connection"></div>').attr('data-connection', c.id).appendTo(list);
      const header = $('<div class="smtp-outbox-header"></div>').appendTo(section);
      $('<span class="smtp-outbox-name"></span>')
        .text(c.name || c.id)
        .appendTo(header);
      $('<span class="smtp-outbox-count"></span>')
        .text(_('smtp-oauth-config.outbox.count', { count: c.mails.length }))
        .appendTo(header);
      if (c.mails.length) {
        const all = $('<span class="smtp-outbox-actions"></span>').appendTo(header);
        button('fa-repeat', _('smtp-oauth-config.outbox.retryAll'), () => act(c.id, 'retry'))
          .addClass('smtp-outbox-retry-all')
          .appendTo(all);
        button('fa-trash', _('smtp-oauth-config.outbox.deleteAll'), () => confirmDelete(c.mails.length, () => act(c.id, 'delete')))
          .addClass('smtp-outbox-delete-all')
          .appendTo(all);
      }
      if (c.outbox === 'memory') $('<div class="smtp-outbox-note"></div>').text(_('smtp-oauth-config.outbox.memoryNote')).appendTo(section);
      for (const m of c.mails) {
        const row = $('<div class="smtp-outbox-mail"></div>').attr('data-mail', m.id).appendTo(section);
        // One line, cut with an ellipsis: the whole subject is its tooltip.
        const subject = m.subject || _('smtp-oauth-config.outbox.noSubject');
        $('<div class="smtp-outbox-subject"></div>').text(subject).attr('title', subject).appendTo(row);
        const facts = [m.to, size(m.size), _('smtp-oauth-config.outbox.attempts', { count: m.attempts })];
        if (m.delivered) facts.push(_('smtp-oauth-config.outbox.delivered', { done: m.delivered.count, of: m.delivered.of }));
        if (m.nextAttemptAt) facts.push(_('smtp-oauth-config.outbox.nextTry', { time: time(m.nextAttemptAt) }));
        $('<div class="smtp-outbox-facts"></div>').text(facts.join(' · ')).appendTo(row);
        if (m.lastError) {
          const error = $('<div class="smtp-outbox-error"></div>').appendTo(row);
          if (m.lastError.code) $('<code>').text(m.lastError.code).appendTo(error);
          $('<span>').text(` ${m.lastError.message}`).appendTo(error);
          if (m.lastError.hint) $('<div class="smtp-outbox-hint"></div>').text(m.lastError.hint).appendTo(row);
        }
        const actions = $('<div class="smtp-outbox-actions"></div>').appendTo(row);
        button('fa-repeat', _('smtp-oauth-config.outbox.retry'), () => act(c.id, 'retry', m.id))
          .addClass('smtp-outbox-retry')
          .appendTo(actions);
        button('fa-trash', _('smtp-oauth-config.outbox.delete'), () => confirmDelete(1, () => act(c.id, 'delete', m.id)))
          .addClass('smtp-outbox-delete')
          .appendTo(actions);
      }
    }
  }

  function refresh() {
    // The last errors and hints come in the editor's language, which may differ from the runtime's.
    askRuntime('smtp-oauth-config/outbox')
      .done(render)
      .fail((xhr) => {
        list.empty();
        $('<div class="smtp-outbox-empty"></div>')
          .text(_('smtp-oauth-config.outbox.failed', { status: xhr.status }))
          .appendTo(list);
      });
  }

  refreshButton.on('click', (e) => {
    e.preventDefault();
    refresh();
  });

  const tab = {
    id: 'smtp-outbox',
    label: _('smtp-oauth-config.outbox.tab'),
    name: _('smtp-oauth-config.outbox.title'),
    iconClass: 'fa fa-envelope-o',
    content: content[0],
    toolbar: toolbar[0],
    enableOnEdit: true,
    // Called when the tab is shown; the polling stops by itself once another tab hides it.
    onchange: () => {
      refresh();
      timer ??= setInterval(() => {
        if (content.is(':visible')) return refresh();
        clearInterval(timer);
        timer = undefined;
      }, REFRESH_MS);
    },
    onremove: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
  // @types/node-red__editor-client lacks onchange and onremove, which Node-RED's sidebar calls.
  RED.sidebar.addTab(tab as Parameters<typeof RED.sidebar.addTab>[0]);
}
