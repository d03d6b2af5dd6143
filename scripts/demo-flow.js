'use strict';
// The flow `npm start` writes into a new demo user dir: one click on the inject node sends a mail
// to the development inbox. The connection reads the inbox's SMTP port from ${INBOX_SMTP_PORT},
// which scripts/start.js sets, so the flow keeps working when the ports change.

const IDS = {
  tab: 'd3m0000000000001',
  connection: 'd3m0000000000002',
  comment: 'd3m0000000000003',
  inject: 'd3m0000000000004',
  send: 'd3m0000000000005',
  debug: 'd3m0000000000006',
  catch: 'd3m0000000000007',
  debugErrors: 'd3m0000000000008',
};

function demoFlow() {
  return [
    { id: IDS.tab, type: 'tab', label: 'Send email demo', disabled: false, info: '' },
    {
      id: IDS.connection,
      type: 'smtp-oauth-config',
      name: 'Development inbox',
      service: '',
      host: '127.0.0.1',
      port: '${INBOX_SMTP_PORT}',
      security: 'none',
      rejectUnauthorized: true,
      authType: 'none',
      tokenUrl: '',
      scope: '',
      maxConnections: 5,
      rateLimitPerMinute: 0,
      timeout: 30,
      maxAttachmentMB: 25,
      retryForSeconds: 600,
      outbox: 'disk',
      outboxMaxMB: 200,
    },
    {
      id: IDS.comment,
      type: 'comment',
      z: IDS.tab,
      name: 'Click the button of "Send demo mail", then look in the development inbox',
      info:
        'This flow was written by `npm start`. The connection **Development inbox** sends, without TLS and without a login, ' +
        'to the local inbox that `npm start` runs beside Node-RED (its address is printed in the terminal, by default http://127.0.0.1:1080). ' +
        'Its port is `${INBOX_SMTP_PORT}`, an environment variable that `npm start` sets.\n\n' +
        'The send node renders the subject and content from `msg.payload` with `{{payload.name}}` templates, attaches a text file, ' +
        'and stores the result in `msg.emailResult`, which the debug node shows.\n\n' +
        'More flows: Menu > Import > Examples > @mailwire/node-red-send-smtp-email.',
      x: 350,
      y: 60,
      wires: [],
    },
    {
      id: IDS.inject,
      type: 'inject',
      z: IDS.tab,
      name: 'Send demo mail',
      props: [{ p: 'payload' }],
      repeat: '',
      crontab: '',
      once: false,
      onceDelay: 0.1,
      topic: '',
      payload: '{"name":"Ada","order":"A-1001","items":["Node-RED","SMTP","OAuth2"]}',
      payloadType: 'json',
      x: 140,
      y: 120,
      wires: [[IDS.send]],
    },
    {
      id: IDS.send,
      type: 'send-smtp-email',
      z: IDS.tab,
      // A short name, so the node's label (and the layout) never depends on the subject.
      name: 'mail to Ada',
      connection: IDS.connection,
      to: 'Ada Lovelace <ada@example.com>',
      toType: 'str',
      cc: '',
      ccType: 'str',
      bcc: '',
      bccType: 'str',
      from: 'Node-RED demo <node-red@example.com>',
      fromType: 'str',
      replyTo: '',
      replyToType: 'str',
      subject: 'Hello {{payload.name}}, your order {{payload.order}} from Node-RED',
      subjectType: 'str',
      html:
        '<h2>Hello {{payload.name}}!</h2><p>This mail was sent by the <b>send email</b> node of ' +
        '<i>@mailwire/node-red-send-smtp-email</i>.</p><p>Your order {{payload.order}} contains:</p>' +
        '<ul>{{#payload.items}}<li>{{.}}</li>{{/payload.items}}</ul>' +
        '<p>Learn more in the <a href="https://nodered.org/docs/">Node-RED documentation</a>.</p>',
      htmlType: 'str',
      text: '',
      textType: 'str',
      priority: 'normal',
      attachmentType: 'text',
      attachment: 'A text file attached by the send email node.',
      attachmentValueType: 'str',
      attachmentFilename: 'hello.txt',
      attachmentFilenameType: 'str',
      attachmentMimeType: '',
      storeResult: 'msg',
      resultKey: 'emailResult',
      stopOnError: true,
      async: false,
      x: 340,
      y: 120,
      wires: [[IDS.debug]],
    },
    {
      id: IDS.debug,
      type: 'debug',
      z: IDS.tab,
      name: 'result',
      active: true,
      tosidebar: true,
      console: false,
      tostatus: false,
      complete: 'emailResult',
      targetType: 'msg',
      statusVal: '',
      statusType: 'auto',
      x: 520,
      y: 120,
      wires: [],
    },
    {
      id: IDS.catch,
      type: 'catch',
      z: IDS.tab,
      name: 'send errors',
      scope: [IDS.send],
      uncaught: false,
      x: 140,
      y: 180,
      wires: [[IDS.debugErrors]],
    },
    {
      id: IDS.debugErrors,
      type: 'debug',
      z: IDS.tab,
      name: 'error',
      active: true,
      tosidebar: true,
      console: false,
      tostatus: false,
      // The message with its hint as one line of text; the whole msg.error would show as a collapsed object.
      complete: 'error.message',
      targetType: 'msg',
      statusVal: '',
      statusType: 'auto',
      x: 340,
      y: 180,
      wires: [],
    },
  ];
}

module.exports = { demoFlow, IDS };
