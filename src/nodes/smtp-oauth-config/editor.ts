// The connection dialog. Built into smtp-oauth-config.html by scripts/build.js.
import type { EditorNodeProperties } from 'node-red';
import { advancedSection, changed, fillSelect, messages, showRows } from '../../editor/dialog';
import { addOutboxTab } from '../../editor/outbox-tab';
import {
  AUTH_TYPES,
  CLIENT_AUTH,
  CONNECTION_DEFAULTS as DEFAULTS,
  CREDENTIALS,
  credentialsOf,
  defaultPoolSize,
  M365_SCOPE,
  M365_SERVICE,
  M365_TOKEN_URL,
  m365Tenant,
  m365TokenUrl,
  OUTBOX_MODES,
  SECURITY,
  TRANSPORTS,
  type AuthType,
  type ClientAuth,
  type TransportKind,
  type OutboxMode,
  type CredentialName,
  type Security,
} from '../../shared/constants';
import { editorProperty, isHost } from '../../shared/connection-fields';

/** The dialog's values as Node-RED's editor stores them: numbers typed into a field are saved as text. */
interface ConnectionProps extends EditorNodeProperties {
  service: string;
  host: string;
  port: number | string;
  security: Security;
  rejectUnauthorized: boolean;
  authType: AuthType;
  tokenUrl: string;
  scope: string;
  clientAuth: ClientAuth;
  transport: TransportKind;
  graphUrl: string;
  maxConnections: number | string;
  rateLimitPerMinute: number | string;
  timeout: number | string;
  maxAttachmentMB: number | string;
  retryForSeconds: number | string;
  outbox: OutboxMode;
  outboxMaxMB: number | string;
}
type ConnectionCredentials = Record<CredentialName, string>;

/** A service of the installed nodemailer, as GET smtp-oauth-config/services lists it. */
interface Service {
  key: string;
  description: string;
  host: string;
  port: number;
  secure: boolean;
}

/**
 * The English words of nodemailer's service descriptions that the catalog says in the editor's
 * language (serviceWords): what kind of provider and which region; the names stay as they are.
 * Longer phrases come first, so that "Asia Pacific" is said before "Asia" could match it.
 */
const SERVICE_WORDS: Record<string, string> = {
  'German hosting provider': 'germanHosting',
  'Italian email provider': 'italianProvider',
  'Swiss email provider': 'swissProvider',
  'Brazilian provider': 'brazilianProvider',
  'email testing service': 'testing',
  'privacy-focused provider': 'privacy',
  'email forwarding service': 'forwarding',
  'Estonian email provider': 'estonianProvider',
  'Swiss hosting provider': 'swissHosting',
  'secure email service': 'secure',
  'Swedish hosting provider': 'swedishHosting',
  'by Mailchimp': 'byMailchimp',
  'Korean email provider': 'koreanProvider',
  'email delivery service': 'delivery',
  'Norwegian email provider': 'norwegianProvider',
  'Chinese email delivery': 'chineseDelivery',
  'formerly Sendinblue': 'formerly',
  'Czech email provider': 'czechProvider',
  'EU region': 'euRegion',
  'Asia Pacific': 'asiaPacific',
  'South America': 'southAmerica',
  'N. California': 'nCalifornia',
  'N. Virginia': 'nVirginia',
  'US East': 'usEast',
  'US West': 'usWest',
  Ireland: 'ireland',
  Central: 'central',
  Europe: 'europe',
  Canada: 'canada',
  Asia: 'asia',
};
const SERVICE_WORD = new RegExp(
  `\\b(${Object.keys(SERVICE_WORDS)
    .map((w) => w.replace(/[.]/g, '\\.'))
    .join('|')})(?![\\w-])`,
  'g',
);

/** A service's description in the editor's language: nodemailer writes it in English. */
const describeService = (description: string, t: (key: string) => string) =>
  description.replace(SERVICE_WORD, (words) => t(`serviceWords.${SERVICE_WORDS[words]}`));

/**
 * The services as the user looks for them: by the name shown, not by nodemailer's key (Outlook.com
 * is keyed Hotmail), and each server once: nodemailer lists AWS SES US East under two keys (SES
 * and SES-US-EAST-1). Of such twins the saved one is kept, so that a saved connection still shows
 * its service; every key stays known to the dialog.
 */
function serviceChoices(list: Service[], saved: string | undefined, lang: string): Service[] {
  const byServer = new Map<string, Service>();
  for (const s of list) {
    const server = `${s.description}\n${s.host}:${s.port}`;
    if (!byServer.has(server) || s.key === saved) byServer.set(server, s);
  }
  return [...byServer.values()].sort((a, b) => a.description.localeCompare(b.description, lang, { sensitivity: 'base' }));
}

/** The message key of each method's name. */
const AUTH_LABELS: Record<AuthType, string> = {
  basic: 'auth.basic',
  'oauth2-client-credentials': 'auth.clientCredentials',
  oauth2: 'auth.oauth2',
  none: 'auth.none',
};

/** The rows of the Authentication part each method shows besides its credentials. */
const EXTRA_ROWS: Record<AuthType, readonly string[]> = {
  basic: [],
  'oauth2-client-credentials': ['tenant', 'tokenUrl', 'scope'],
  oauth2: ['deprecated', 'tokenUrl'],
  none: [],
};
const authRows = (auth: string): readonly string[] => [...credentialsOf(auth), ...(EXTRA_ROWS[auth as AuthType] || [])];

/** The fields Test connection sends besides the credentials and the certificate check. */
const TESTED_FIELDS = ['service', 'host', 'port', 'security', 'authType', 'tokenUrl', 'scope', 'timeout'] as const;

/** Settings of settings.js that the runtime exports to the editor (registered in smtp-oauth-config.ts). */
const settings = RED.settings as unknown as { smtpOauthConfigMaxAttachmentMB?: number };
const defaultMaxAttachmentMB = settings.smtpOauthConfigMaxAttachmentMB ?? DEFAULTS.maxAttachmentMB;

/** A token endpoint reached over plain http elsewhere than this machine lets anyone on the path read the client secret and hand back any token. */
const PLAIN_HTTP = /^http:/i;
const LOOPBACK = /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/i;

RED.nodes.registerType<ConnectionProps, ConnectionCredentials>('smtp-oauth-config', {
  category: 'config',
  // Each setting's default and validator come from its description (shared/connection-fields.ts),
  // which the runtime's check follows too; the names stay literal here for the Flow Library's parser.
  defaults: {
    name: { value: '' },
    service: editorProperty('service'),
    host: {
      ...editorProperty('host'),
      validate: function (v) {
        return isHost(this.service, v, this.transport);
      },
    },
    port: editorProperty('port'),
    security: editorProperty('security'),
    rejectUnauthorized: editorProperty('rejectUnauthorized'),
    authType: editorProperty('authType'),
    tokenUrl: {
      ...editorProperty('tokenUrl'),
      validate: function (v) {
        if (this.authType !== 'oauth2-client-credentials' && this.authType !== 'oauth2') return true;
        return /^https?:\/\/\S+$/.test(v || '') || (this.authType === 'oauth2' && !v);
      },
    },
    scope: editorProperty('scope'),
    clientAuth: editorProperty('clientAuth'),
    transport: editorProperty('transport'),
    graphUrl: editorProperty('graphUrl'),
    maxConnections: editorProperty('maxConnections'),
    rateLimitPerMinute: editorProperty('rateLimitPerMinute'),
    timeout: editorProperty('timeout'),
    retryForSeconds: editorProperty('retryForSeconds'),
    maxAttachmentMB: { ...editorProperty('maxAttachmentMB'), value: defaultMaxAttachmentMB },
    outbox: editorProperty('outbox'),
    outboxMaxMB: editorProperty('outboxMaxMB'),
  },
  credentials: {
    user: CREDENTIALS.user,
    password: CREDENTIALS.password,
    clientId: CREDENTIALS.clientId,
    clientSecret: CREDENTIALS.clientSecret,
    refreshToken: CREDENTIALS.refreshToken,
    accessToken: CREDENTIALS.accessToken,
    clientCertificate: CREDENTIALS.clientCertificate,
    clientPrivateKey: CREDENTIALS.clientPrivateKey,
    clientKeyPassphrase: CREDENTIALS.clientKeyPassphrase,
  },
  // Also the dialog's title: "Add new SMTP connection config node" instead of the type name.
  paletteLabel: function () {
    return this._('smtp-oauth-config.label.default');
  },
  label: function () {
    const user = (this as { credentials?: { user?: string } }).credentials?.user;
    const where = this.service || this.host;
    if (this.name) return this.name;
    if (user && where) return `${user} @ ${where}`;
    return user || where || this._('smtp-oauth-config.label.default');
  },
  oneditprepare: function () {
    const node = this;
    const t = messages(node, 'smtp-oauth-config');
    const $service = $('#node-config-input-service');
    const $host = $('#node-config-input-host');
    const $port = $('#node-config-input-port');
    const $security = $('#node-config-input-security');
    const $auth = $('#node-config-input-authType');
    const $tokenUrl = $('#node-config-input-tokenUrl');
    const $scope = $('#node-config-input-scope');
    const $pool = $('#node-config-input-maxConnections');
    const $tenant = $('#smtp-config-tenant');
    const services: Record<string, Service> = {};

    fillSelect('node-config-input-security', SECURITY, (s) => t(`security.${s}`), node.security);
    fillSelect('node-config-input-authType', AUTH_TYPES, (a) => t(AUTH_LABELS[a as AuthType]), node.authType);
    fillSelect('node-config-input-clientAuth', CLIENT_AUTH, (a) => t(`clientAuth.${a}`), node.clientAuth || DEFAULTS.clientAuth);
    fillSelect('node-config-input-transport', TRANSPORTS, (k) => t(`transport.${k}`), node.transport || DEFAULTS.transport);
    fillSelect('node-config-input-outbox', OUTBOX_MODES, (o) => t(`outbox.${o}`), node.outbox || DEFAULTS.outbox);
    // The cap applies to the disk outbox only.
    const $outbox = $('#node-config-input-outbox');
    const showOutboxCap = () => $('.smtp-outbox-disk').toggle($outbox.val() === 'disk');
    $outbox.on('change', showOutboxCap);
    showOutboxCap();
    $port.attr('placeholder', DEFAULTS.port);
    $tokenUrl.attr('placeholder', M365_TOKEN_URL);
    $scope.attr('placeholder', M365_SCOPE);

    function refresh() {
      const service = String($service.val() || '');
      const auth = String($auth.val());
      const known = services[service];
      // A well-known service decides host, port and security (nodemailer's list).
      if (known) {
        $host.val(known.host);
        $port.val(known.port);
        $security.val(known.secure ? 'tls' : 'starttls');
      }
      $host.add($port).add($security).prop('disabled', !!service);
      $('.smtp-config-service-hint').toggle(!!service);

      showRows('smtp-config-auth', authRows(auth));
      const m365 = service === M365_SERVICE || m365Tenant(String($tokenUrl.val())) !== undefined;
      $('.smtp-config-auth-tenant').toggle(auth === 'oauth2-client-credentials' && m365);
      if (auth === 'oauth2-client-credentials' && service === M365_SERVICE && !$scope.val()) $scope.val(M365_SCOPE);
      $('#smtp-config-user-label').text(t(auth === 'basic' ? 'label.user' : 'label.mailbox'));
      $('#smtp-config-user-hint').text(t(auth === 'basic' ? 'hint.user' : 'hint.mailbox'));
      $('#smtp-config-tokenUrl-hint').text(t(auth === 'oauth2' ? 'hint.refreshUrl' : 'hint.tokenUrl'));
    }

    // A service with a documented connection limit gets it as Pool size, unless the user chose one.
    let poolService = node.service;
    $service.on('change', () => {
      const service = String($service.val() || '');
      if (!changed($pool.attr('id')!, defaultPoolSize(poolService))) $pool.val(defaultPoolSize(service));
      poolService = service;
      refresh();
    });
    $auth.on('change', () => {
      refresh();
      warnPlainHttp();
    });
    function warnPlainHttp() {
      const url = String($tokenUrl.val()).trim();
      const used = authRows(String($auth.val())).includes('tokenUrl');
      $('#smtp-config-tokenUrl-http').toggle(used && PLAIN_HTTP.test(url) && !LOOPBACK.test(url));
    }
    $tokenUrl.on('input', () => {
      const tenant = m365Tenant(String($tokenUrl.val()));
      if (tenant !== undefined && !$tenant.is(':focus')) $tenant.val(tenant);
      warnPlainHttp();
    });
    warnPlainHttp();
    $tenant.val(m365Tenant(node.tokenUrl || '') || '');
    $tenant.on('input', () => {
      const tenant = String($tenant.val()).trim();
      $tokenUrl.val(tenant ? m365TokenUrl(tenant) : '');
    });

    // The editor shows a stored 0 as an empty field.
    const $rate = $('#node-config-input-rateLimitPerMinute');
    if ($rate.val() === '') $rate.val(node.rateLimitPerMinute || 0);
    advancedSection(
      'smtp-config-advanced',
      t('section.advanced'),
      changed('node-config-input-maxConnections', defaultPoolSize(node.service)) ||
        changed('node-config-input-rateLimitPerMinute', DEFAULTS.rateLimitPerMinute) ||
        changed('node-config-input-timeout', DEFAULTS.timeout) ||
        changed('node-config-input-retryForSeconds', DEFAULTS.retryForSeconds) ||
        changed('node-config-input-maxAttachmentMB', defaultMaxAttachmentMB) ||
        changed('node-config-input-outbox', DEFAULTS.outbox) ||
        changed('node-config-input-outboxMaxMB', DEFAULTS.outboxMaxMB),
    );

    // Until the list arrives, only "Other SMTP Service" and the saved service are offered.
    if (node.service) $('<option>').val(node.service).text(node.service).appendTo($service);
    $service.val(node.service || '');
    refresh();
    $.getJSON('smtp-oauth-config/services')
      .done((list: Service[]) => {
        $service.find('option[value!=""]').remove();
        for (const s of list) services[s.key] = { ...s, description: describeService(s.description, t) };
        for (const s of serviceChoices(Object.values(services), node.service, RED.i18n.lang()))
          $('<option>').val(s.key).text(s.description).appendTo($service);
        $service.val(node.service || '');
        $service.attr('data-loaded', 'true');
        refresh();
      })
      .fail((xhr) => {
        $('#smtp-config-services-error')
          .text(t('hint.servicesFailed', { status: xhr.status }))
          .show();
      });

    // Test connection: the values in the dialog. A stored secret left unchanged is sent as
    // '__PWRD__' and replaced by the stored value on the server, so no secret travels back here.
    $('#smtp-config-test').on('click', (e) => {
      e.preventDefault();
      const $result = $('#smtp-config-test-result').removeClass('smtp-ok smtp-fail').show();
      $result.empty().append($('<i class="fa fa-spinner fa-spin"></i>'), ' ', $('<span>').text(t('test.running')));
      const body: Record<string, unknown> = { id: node.id };
      for (const k of TESTED_FIELDS) body[k] = $('#node-config-input-' + k).val();
      body.rejectUnauthorized = $('#node-config-input-rejectUnauthorized').prop('checked');
      const credentials: Record<string, unknown> = {};
      for (const k of credentialsOf(String(body.authType))) credentials[k] = $('#node-config-input-' + k).val();
      body.credentials = credentials;
      $('#smtp-config-test').prop('disabled', true);
      function showFailure(err: NonNullable<TestAnswer['error']>) {
        $result
          .empty()
          .addClass('smtp-fail')
          .append(
            $('<div class="smtp-config-test-title">').append(
              $('<i class="fa fa-exclamation-circle"></i>'),
              ' ',
              $('<span>').text(t('test.error')),
              err.code ? $('<code>').text(err.code) : '',
            ),
            $('<div class="smtp-config-test-message">').text(err.message || ''),
            err.hint
              ? $('<div class="smtp-config-test-hint">').append($('<i class="fa fa-lightbulb-o"></i>'), ' ', $('<span>').text(err.hint))
              : '',
          );
      }
      // The answer's errors and hints come in the editor's language, which may differ from the runtime's.
      $.ajax({
        url: 'smtp-oauth-config/test',
        method: 'POST',
        contentType: 'application/json',
        data: JSON.stringify(body),
        dataType: 'json',
        headers: { 'Accept-Language': RED.i18n.lang() },
      })
        .done((r: TestAnswer) => {
          $result.empty();
          if (r.ok) {
            // With Method None nothing was signed in to: say only what was checked.
            // Graph sends nothing to test: the runtime says what the token shows instead.
            const ok = r.note || t(body.authType === 'none' ? 'test.okNoAuth' : 'test.ok');
            $result.addClass('smtp-ok').append($('<i class="fa fa-check-circle"></i>'), ' ', $('<span>').text(ok));
            return;
          }
          // A stored secret is only used for the deployed server: ask for it again.
          if (r.needSecret)
            $('#node-config-input-' + r.needSecret)
              .val('')
              .addClass('input-error')
              .trigger('focus');
          showFailure(r.error || {});
        })
        .fail((xhr) => {
          // A refused request (a field the check refused: 400, a wrong content type: 415) answers
          // with the same error as a failed test, in the editor's language: show its words.
          const answer = xhr.responseJSON as TestAnswer | undefined;
          if (answer?.error?.message) return showFailure(answer.error);
          const forbidden = xhr.status === 401 || xhr.status === 403;
          showFailure({ message: t(forbidden ? 'test.forbidden' : 'test.failed', { status: xhr.status || '-' }) });
        })
        .always(() => {
          $('#smtp-config-test').prop('disabled', false);
        });
    });
  },
});

// The Outbox tab speaks through the connection node's messages (Node-RED gives its definition `_`).
addOutboxTab((key, options) =>
  (RED.nodes.getType('smtp-oauth-config') as unknown as { _: (key: string, options?: Record<string, unknown>) => string })._(key, options),
);

/** The answer of POST smtp-oauth-config/test. */
interface TestAnswer {
  ok: boolean;
  /** What the user should know beyond "it works" (Graph: whether the token lists Mail.Send). */
  note?: string;
  needSecret?: string;
  error?: { code?: string; message?: string; hint?: string };
}
