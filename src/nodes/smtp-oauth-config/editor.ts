// The connection dialog. Built into smtp-oauth-config.html by scripts/build.js.
import type { EditorNodeProperties } from 'node-red';
import { advancedSection, askRuntime, changed, fillSelect, messages, showRows, type Translate } from '../../editor/dialog';
import { addOutboxTab } from '../../editor/outbox-tab';
import {
  AUTH_TYPES,
  CLIENT_AUTH,
  CONNECTION_DEFAULTS as DEFAULTS,
  CREDENTIALS,
  credentialsOf,
  defaultPoolSize,
  GOOGLE_SCOPE,
  GOOGLE_SERVICE,
  M365_SCOPE,
  M365_SERVICE,
  M365_TOKEN_URL,
  m365Tenant,
  m365TokenUrl,
  OUTBOX_MODES,
  outboxCredentialsOf,
  SECURITY,
  TRANSPORTS,
  type AuthType,
  type ClientAuth,
  type TransportKind,
  type OutboxMode,
  type CredentialName,
  type Security,
} from '../../shared/constants';
import { editorProperty, graphScope as graphScopeOf, isHost } from '../../shared/connection-fields';
import { certificatesOf, isPrivateKey, pemBlocks, pemText } from '../../shared/pem';
import { readServiceAccountKey } from '../../shared/service-account';

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
  dkimDomain: string;
  dkimSelector: string;
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
  'google-service-account': 'auth.googleServiceAccount',
  oauth2: 'auth.oauth2',
  none: 'auth.none',
};

const CLIENT_CREDENTIALS: AuthType = 'oauth2-client-credentials';
const GOOGLE: AuthType = 'google-service-account';

/** The rows of the Authentication part each method shows besides its credentials. */
const EXTRA_ROWS: Record<AuthType, readonly string[]> = {
  basic: [],
  [CLIENT_CREDENTIALS]: ['transport', 'tenant', 'tokenUrl', 'clientAuth', 'scope'],
  // The token URI is the key file's.
  [GOOGLE]: ['scope'],
  oauth2: ['deprecated', 'tokenUrl'],
  none: [],
};
/**
 * The rows a method shows: its credentials (client credentials: the secret, or the certificate,
 * its key and passphrase), its other rows, and the Graph URL when client credentials send over Graph.
 */
const authRows = (auth: string, clientAuth: string, transport: string): readonly string[] => [
  ...credentialsOf(auth, clientAuth),
  ...(EXTRA_ROWS[auth as AuthType] || []),
  ...(auth === CLIENT_CREDENTIALS && transport === 'graph' ? ['graphUrl'] : []),
];

/**
 * The rows an outbox shows: its credentials (Redis: its URL), and the cap where one applies: a disk
 * and Redis hold mails until they are sent, memory holds only what the process holds anyway.
 */
const outboxRows = (outbox: string): readonly string[] => [
  ...outboxCredentialsOf(outbox),
  ...(outbox === 'disk' || outbox === 'redis' ? ['outboxMaxMB'] : []),
];

/** The fields Test connection sends besides the credentials and the certificate check. */
const TESTED_FIELDS = [
  'service',
  'host',
  'port',
  'security',
  'authType',
  'tokenUrl',
  'scope',
  'clientAuth',
  'transport',
  'graphUrl',
  'timeout',
] as const;

/** Within this many days of its expiry a certificate is shown in amber: time to upload the next one to Entra ID. */
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

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
    transport: {
      ...editorProperty('transport'),
      validate: function (v) {
        return editorProperty('transport').validate(v) && (v !== 'graph' || this.authType === CLIENT_CREDENTIALS);
      },
    },
    graphUrl: editorProperty('graphUrl'),
    maxConnections: editorProperty('maxConnections'),
    rateLimitPerMinute: editorProperty('rateLimitPerMinute'),
    timeout: editorProperty('timeout'),
    retryForSeconds: editorProperty('retryForSeconds'),
    maxAttachmentMB: { ...editorProperty('maxAttachmentMB'), value: defaultMaxAttachmentMB },
    outbox: editorProperty('outbox'),
    outboxMaxMB: editorProperty('outboxMaxMB'),
    dkimDomain: editorProperty('dkimDomain'),
    dkimSelector: editorProperty('dkimSelector'),
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
    // Only ever a credential: it may hold Redis's password.
    redisUrl: CREDENTIALS.redisUrl,
    // The whole JSON key file of a Google service account: it holds the private key.
    serviceAccountKey: CREDENTIALS.serviceAccountKey,
    // The key that signs (SIGNING_CREDENTIALS): a secret, so the dialog never gets it back.
    dkimPrivateKey: CREDENTIALS.dkimPrivateKey,
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
    const $clientAuth = $('#node-config-input-clientAuth');
    const $transport = $('#node-config-input-transport');
    const $graphUrl = $('#node-config-input-graphUrl');
    const services: Record<string, Service> = {};

    fillSelect('node-config-input-security', SECURITY, (s) => t(`security.${s}`), node.security);
    fillSelect('node-config-input-authType', AUTH_TYPES, (a) => t(AUTH_LABELS[a as AuthType]), node.authType);
    fillSelect('node-config-input-clientAuth', CLIENT_AUTH, (a) => t(`clientAuth.${a}`), node.clientAuth || DEFAULTS.clientAuth);
    fillSelect('node-config-input-transport', TRANSPORTS, (k) => t(`transport.${k}`), node.transport || DEFAULTS.transport);
    fillSelect('node-config-input-outbox', OUTBOX_MODES, (o) => t(`outbox.${o}`), node.outbox || DEFAULTS.outbox);
    const $outbox = $('#node-config-input-outbox');
    const showOutboxRows = () => showRows('smtp-config-outbox', outboxRows(String($outbox.val())));
    $outbox.on('change', showOutboxRows);
    showOutboxRows();
    $port.attr('placeholder', DEFAULTS.port);
    $tokenUrl.attr('placeholder', M365_TOKEN_URL);

    /** How mails leave: Graph only with client credentials, whatever the hidden select still holds. */
    const transportNow = () => (String($auth.val()) === CLIENT_CREDENTIALS ? String($transport.val()) : 'smtp');
    /** The scope the runtime asks Graph's token for when the field is empty. */
    const graphScope = () => graphScopeOf($graphUrl.val());

    function refresh() {
      const service = String($service.val() || '');
      const auth = String($auth.val());
      const graph = transportNow() === 'graph';
      const known = services[service];
      // A well-known service decides host, port and security (nodemailer's list).
      if (known) {
        $host.val(known.host);
        $port.val(known.port);
        $security.val(known.secure ? 'tls' : 'starttls');
      }
      $host.add($port).add($security).prop('disabled', !!service);
      // Graph goes over HTTPS to the Graph URL: the SMTP server's rows say nothing about it. The
      // service stays: it still picks the pool size and Microsoft 365's defaults.
      $('.smtp-config-smtp-server').toggle(!graph);
      $('.smtp-config-graph-server').toggle(graph);
      $('.smtp-config-service-hint').toggle(!!service && !graph);

      showRows('smtp-config-auth', authRows(auth, String($clientAuth.val()), transportNow()));
      const m365 = service === M365_SERVICE || graph || m365Tenant(String($tokenUrl.val())) !== undefined;
      $('.smtp-config-auth-tenant').toggle(auth === CLIENT_CREDENTIALS && m365);
      // The SMTP scope is wrong for Graph (its token would be for Exchange's SMTP, not for Graph):
      // with Graph an empty scope means {graphUrl}/.default. Only the pre-filled default is swapped,
      // never a scope the user typed.
      if (graph && $scope.val() === M365_SCOPE) $scope.val('');
      if (auth === CLIENT_CREDENTIALS && !graph && service === M365_SERVICE && !$scope.val()) $scope.val(M365_SCOPE);
      // Microsoft's scope, pre-filled for client credentials, means nothing to Google: empty is Gmail's own.
      if (auth === GOOGLE && $scope.val() === M365_SCOPE) $scope.val('');
      $scope.attr('placeholder', auth === GOOGLE ? GOOGLE_SCOPE : graph ? graphScope() : M365_SCOPE);
      $('#smtp-config-scope-hint').text(
        auth === GOOGLE ? t('hint.scopeGoogle') : graph ? t('hint.scopeGraph', { scope: graphScope() }) : t('hint.scope'),
      );
      // Gmail offers the service account, with the three steps its admins take.
      $('#smtp-config-google-tip').toggle(service === GOOGLE_SERVICE || auth === GOOGLE);
      showCertificateInfo();
      showServiceAccount();
      $('#smtp-config-user-label').text(t(auth === 'basic' ? 'label.user' : 'label.mailbox'));
      $('#smtp-config-user-hint').text(t(auth === 'basic' ? 'hint.user' : auth === GOOGLE ? 'hint.googleMailbox' : 'hint.mailbox'));
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
    $clientAuth.on('change', refresh);
    $transport.on('change', refresh);
    $graphUrl.on('input', refresh);
    function warnPlainHttp() {
      const url = String($tokenUrl.val()).trim();
      const used = (EXTRA_ROWS[String($auth.val()) as AuthType] || []).includes('tokenUrl');
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

    // The certificate and its key: pasted, or read from a file. A password field drops the line
    // breaks of a pasted key, and OpenSSL reads no PEM without them: the key Node-RED stores is
    // the hidden text area's, rebuilt as PEM (pemText); the password field only shows it masked.
    const $certificate = $('#node-config-input-clientCertificate');
    const $key = $('#node-config-input-clientPrivateKey');
    const $keyShown = $('#smtp-config-clientPrivateKey');
    $keyShown.val(String($key.val() || ''));
    $keyShown.on('input', () => {
      const typed = String($keyShown.val() || '');
      $key.val(typed === '__PWRD__' ? typed : pemText(typed));
    });
    $certificate.on('input', () => {
      // A key pasted here would be stored as the certificate is: as text the editor gets back.
      // It goes to its own field, stored as a secret, at once.
      if (pemBlocks(String($certificate.val())).some(isPrivateKey)) return takeFile('clientCertificate', String($certificate.val()));
      clearTimeout(certificateTimer);
      certificateTimer = setTimeout(showCertificateInfo, 300);
    });
    /** Takes a PEM file: its certificates go to the certificate field, a key to the key field. */
    function takeFile(field: 'clientCertificate' | 'clientPrivateKey', text: string) {
      const blocks = pemBlocks(text);
      const key = blocks.find(isPrivateKey);
      if (field === 'clientCertificate') {
        // A bundle with the key too (openssl's -out with -keyout the same file): the key goes where
        // it belongs, never into the certificate field; one already there is not replaced.
        $certificate.val(certificatesOf(text) || (key ? '' : text));
        if (key && !$key.val()) $key.val(pemText(key.text));
        showCertificateInfo();
        if (key) $('#smtp-config-certificate-key').show();
      } else {
        $key.val(key ? pemText(key.text) : text.trim());
      }
      $keyShown.val(String($key.val() || ''));
      $certificate.add($key).trigger('change');
    }
    for (const field of ['clientCertificate', 'clientPrivateKey'] as const) chooseFile(field, (text) => takeFile(field, text));

    // What the dialog shows of the certificate, from the runtime (Node's X509Certificate): its
    // subject, the thumbprints Entra ID lists, and its expiry. Only the CERTIFICATE blocks are
    // sent, never anything else a pasted text holds.
    let certificateTimer: ReturnType<typeof setTimeout> | undefined;
    let certificateAsked = 0;
    /** The certificates last asked about: the dialog's other changes show their answer again without asking. */
    let certificatesAsked: string | undefined;
    function showCertificateInfo() {
      const $info = $('#smtp-config-certificate-info');
      const used =
        String($auth.val()) === CLIENT_CREDENTIALS &&
        credentialsOf(CLIENT_CREDENTIALS, String($clientAuth.val())).includes('clientCertificate');
      const pem = String($certificate.val() || '').trim();
      $('#smtp-config-certificate-key').hide();
      $info.toggle(used && !!pem);
      if (!used || !pem) return;
      const certificates = certificatesOf(pem);
      if (certificates === certificatesAsked) return;
      certificatesAsked = certificates;
      const asked = ++certificateAsked;
      const fail = (message: string) =>
        $info
          .empty()
          .removeClass('smtp-cert-ok')
          .addClass('smtp-cert-error')
          .append($('<i class="fa fa-exclamation-circle"></i>'), ' ', $('<span>').text(message));
      if (!certificates) return void fail(t('certificate.unreadable'));
      askRuntime('smtp-oauth-config/certificate', { certificate: certificates })
        .done((c: CertificateAnswer) => {
          if (asked !== certificateAsked) return;
          const notAfter = new Date(c.notAfter);
          const days = Math.ceil((notAfter.getTime() - Date.now()) / DAY_MS);
          const date = notAfter.toLocaleDateString(RED.i18n.lang(), { year: 'numeric', month: 'long', day: 'numeric' });
          const expiry = days <= 0 ? 'expired' : days <= EXPIRY_WARNING_DAYS ? 'expiresSoon' : 'expires';
          const line = (cls: string, label: string, value: JQuery | string) =>
            $('<div>').addClass(cls).append($('<span class="smtp-cert-label">').text(label), ' ', value);
          $info
            .empty()
            .removeClass('smtp-cert-error')
            .addClass('smtp-cert-ok')
            .append(
              line('smtp-cert-subject', t('certificate.subject'), $('<code>').text(c.subject)),
              line('smtp-cert-sha1', t('certificate.sha1'), $('<code>').text(c.sha1)),
              line('smtp-cert-sha256', t('certificate.sha256'), $('<code>').text(c.sha256)),
              line(`smtp-cert-expiry smtp-cert-${expiry}`, t('certificate.expiry'), t(`certificate.${expiry}`, { date, count: days })),
            );
        })
        .fail((xhr) => {
          if (asked !== certificateAsked) return;
          const answer = xhr.responseJSON as { error?: string } | undefined;
          fail(answer?.error || t('certificate.failed', { status: xhr.status || '-' }));
        });
    }

    // A Google service account's JSON key file: pasted, or read from a file. The password field
    // drops the line breaks of a pasted file, which JSON needs only between its values (the key's own
    // are written \n inside its string). It is parsed here, in the browser, to show the account and
    // its client ID (what the Admin console's delegation asks for); the key is never shown or sent
    // anywhere but as the credential. A stored key reaches the dialog only as '__PWRD__': its account
    // and client ID come from the runtime, which reads them from the deployed connection.
    const $accountKey = $('#node-config-input-serviceAccountKey');
    let storedAccount: { clientEmail: string; clientId: string } | null | undefined;
    function showServiceAccount() {
      const $info = $('#smtp-config-service-account-info');
      const value = String($accountKey.val() || '');
      $info.toggle(String($auth.val()) === GOOGLE && !!value);
      if (String($auth.val()) !== GOOGLE || !value) return;
      const line = (cls: string, label: string, text: string) =>
        $('<div>').addClass(cls).append($('<span class="smtp-cert-label">').text(label), ' ', $('<code>').text(text));
      const show = (account: { clientEmail: string; clientId: string }) =>
        $info
          .empty()
          .removeClass('smtp-cert-error')
          .addClass('smtp-cert-ok')
          .append(
            line('smtp-sa-client-email', t('serviceAccount.clientEmail'), account.clientEmail),
            line('smtp-sa-client-id', t('serviceAccount.clientId'), account.clientId || '-'),
          );
      if (value === '__PWRD__') {
        if (storedAccount) return void show(storedAccount);
        return void $info.empty().removeClass('smtp-cert-error').text(t('serviceAccount.stored'));
      }
      const read = readServiceAccountKey(value);
      if ('fields' in read) return void show(read.fields);
      $info
        .empty()
        .removeClass('smtp-cert-ok')
        .addClass('smtp-cert-error')
        .append($('<i class="fa fa-exclamation-circle"></i>'), ' ', $('<span>').text(t(`serviceAccount.${read.problem}`)));
    }
    $accountKey.on('input change', showServiceAccount);
    chooseFile('serviceAccountKey', (text) => $accountKey.val(text).trigger('change'));
    if ($accountKey.val() === '__PWRD__') {
      $.getJSON(`smtp-oauth-config/service-account/${encodeURIComponent(node.id)}`)
        .done((account: { clientEmail: string; clientId: string }) => {
          storedAccount = account;
          showServiceAccount();
        })
        .fail(() => (storedAccount = null));
    }

    dkimPart(node.id, t);

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
      body.transport = transportNow();
      body.rejectUnauthorized = $('#node-config-input-rejectUnauthorized').prop('checked');
      const credentials: Record<string, unknown> = {};
      for (const k of credentialsOf(String(body.authType), String(body.clientAuth))) credentials[k] = $('#node-config-input-' + k).val();
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
      askRuntime('smtp-oauth-config/test', body)
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
  oneditsave: function () {
    // Graph sends with client credentials only: another method saves SMTP, as it sends, rather
    // than a transport the deploy would refuse from a row the dialog no longer shows.
    if ($('#node-config-input-authType').val() !== CLIENT_CREDENTIALS) $('#node-config-input-transport').val('smtp');
  },
});

// The Outbox tab speaks through the connection node's messages (Node-RED gives its definition `_`).
addOutboxTab((key, options) =>
  (RED.nodes.getType('smtp-oauth-config') as unknown as { _: (key: string, options?: Record<string, unknown>) => string })._(key, options),
);

/** The answer of POST smtp-oauth-config/dkim-record and GET smtp-oauth-config/{id}/dkim-record. */
interface DkimAnswer {
  type: 'rsa' | 'ed25519';
  bits?: number;
  /** The TXT record's value: v=DKIM1; k=…; p=… */
  value: string;
}

/**
 * The DKIM part: domain, selector and private key (pasted or read from a file, stored as a secret
 * through the hidden text area, as the client certificate's key is), and the TXT record to publish.
 * The browser cannot read a key, so the runtime derives the record: from the key typed here, or,
 * when the stored key is left as it is (Node-RED never sends a secret back), from the deployed
 * connection's stored key, by its id. A new connection's key not yet deployed is still here.
 */
/** The "choose a file" button of a credential row: the chosen file's text goes to `take`. */
function chooseFile(field: string, take: (text: string) => void) {
  const $file = $(`#smtp-config-${field}-input`);
  $(`#smtp-config-${field}-file`).on('click', (e) => {
    e.preventDefault();
    $file.trigger('click');
  });
  $file.on('change', () => {
    const file = ($file[0] as HTMLInputElement).files?.[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => take(String(reader.result || ''));
    reader.readAsText(file);
    // The same file chosen again is a change too.
    $file.val('');
  });
}

function dkimPart(id: string, t: Translate) {
  const $domain = $('#node-config-input-dkimDomain');
  const $selector = $('#node-config-input-dkimSelector');
  const $key = $('#node-config-input-dkimPrivateKey');
  const $keyShown = $('#smtp-config-dkimPrivateKey');
  const $record = $('#smtp-config-dkim-record');
  let asked = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The record's value, once the runtime derived it, and from where. */
  let answer: { value?: string; type?: string; stored?: boolean; error?: string; hint?: string } | undefined;

  $keyShown.val(String($key.val() || ''));
  $keyShown.on('input', () => {
    const typed = String($keyShown.val() || '');
    $key.val(typed === '__PWRD__' ? typed : pemText(typed));
    clearTimeout(timer);
    timer = setTimeout(derive, 300);
  });
  $domain.add($selector).on('input', show);
  chooseFile('dkimPrivateKey', (text) => {
    const key = pemBlocks(text).find(isPrivateKey);
    $key.val(key ? pemText(key.text) : text.trim());
    $keyShown.val(String($key.val() || ''));
    $key.trigger('change');
    derive();
  });

  function derive() {
    const pem = String($key.val() || '').trim();
    const mine = ++asked;
    if (!pem) {
      answer = undefined;
      return show();
    }
    const stored = pem === '__PWRD__';
    const request = stored
      ? askRuntime(`smtp-oauth-config/${encodeURIComponent(id)}/dkim-record`)
      : askRuntime('smtp-oauth-config/dkim-record', { privateKey: pem });
    request
      .done((a: DkimAnswer) => {
        if (mine !== asked) return;
        answer = { value: a.value, type: a.type, stored };
        show();
      })
      .fail((xhr) => {
        if (mine !== asked) return;
        const body = xhr.responseJSON as { error?: string; hint?: string } | undefined;
        // A stored key the deployed flows do not have yet (a copied node, a connection not deployed): nothing to show.
        if (stored && xhr.status === 404) answer = undefined;
        else answer = { error: body?.error || t('dkim.failed', { status: xhr.status || '-' }), hint: body?.hint };
        show();
      });
  }

  function show() {
    $record.empty().removeClass('smtp-dkim-error');
    if (!answer) return void $record.hide();
    $record.show();
    if (answer.error) {
      $record
        .addClass('smtp-dkim-error')
        .append($('<i class="fa fa-exclamation-circle"></i>'), ' ', $('<span class="smtp-dkim-refused">').text(answer.error));
      if (answer.hint) $record.append($('<div class="smtp-dkim-hint">').text(answer.hint));
      return;
    }
    const domain = String($domain.val() || '').trim();
    const selector = String($selector.val() || '').trim();
    const name = domain && selector ? `${selector}._domainkey.${domain}` : '';
    const line = (cls: string, label: string, value: string) => {
      const $line = $('<div class="smtp-dkim-line">')
        .addClass(cls)
        .append($('<span class="smtp-dkim-label">').text(label), $('<code>').text(value));
      const $copy = $(
        '<button type="button" class="red-ui-button red-ui-button-small smtp-dkim-copy"><i class="fa fa-clipboard"></i></button>',
      )
        .attr('title', t('dkim.copy'))
        .attr('aria-label', `${t('dkim.copy')} ${label}`)
        .on('click', (e) => {
          e.preventDefault();
          // Node-RED shows its "copied" tip on the element, which it takes as a jQuery object (the type says HTMLElement).
          RED.clipboard.copyText(value, $copy as unknown as HTMLElement, t('dkim.copied'));
        });
      return $line.append($copy);
    };
    $record.append($('<div>').text(t(answer.stored ? 'dkim.stored' : 'dkim.publish')));
    if (name) $record.append(line('smtp-dkim-name', t('dkim.name'), name));
    else $record.append($('<div class="smtp-dkim-noname">').text(t('dkim.noDomain')));
    $record.append(line('smtp-dkim-value', t('dkim.value'), answer.value!));
    if (answer.type === 'ed25519') $record.append($('<div class="smtp-dkim-ed25519">').text(t('dkim.ed25519')));
  }

  derive();
}

/** The answer of POST smtp-oauth-config/certificate. */
interface CertificateAnswer {
  subject: string;
  sha1: string;
  sha256: string;
  /** ISO 8601. */
  notAfter: string;
}

/** The answer of POST smtp-oauth-config/test. */
interface TestAnswer {
  ok: boolean;
  /** What the user should know beyond "it works" (Graph: whether the token lists Mail.Send). */
  note?: string;
  needSecret?: string;
  error?: { code?: string; message?: string; hint?: string };
}
