// The organization's webhook endpoints: a list with each endpoint's events,
// whether it is enabled (an endpoint failing for 24 hours is disabled) and
// its latest deliveries; a form that registers one and shows its secret
// once; enabling a disabled endpoint again, rotating its secret, and
// deleting it.

import { h } from './dom.js';
import { t } from './i18n.js';
import {
  alertBox, busy, clearFieldErrors, field, openDialog, showAlert, showUserErrors, timeEl, viewOpen,
} from './ui.js';

/** eventTypes are the schema's WebhookEventType values, in its order. */
const eventTypes = ['MEMBER_ACTIVATED', 'BINDING_FAILED', 'MAIL_DELIVERY_FAILED', 'MEMBER_REMOVED', 'MEMBER_SIGNED_IN'];

function deliveriesList(endpoint) {
  if (endpoint.deliveries.length === 0) return h('span', { class: 'muted', text: t('hooks.noDeliveries') });
  return h('ul', { class: 'plain-list', dataset: { deliveries: 'true' } }, endpoint.deliveries.map((d) => h('li', { dataset: { deliveryStatus: d.status } },
    h('code', { text: d.type }), ' ',
    h('span', { class: d.status === 'DELIVERED' ? 'badge badge-activated' : d.status === 'FAILED' ? 'badge badge-failed' : 'badge badge-pending', text: t(`hooks.status.${d.status}`) }),
    ' ', timeEl(d.createdAt),
    h('div', { class: 'sub', text: [
      t('hooks.attempts', { n: d.attempts }),
      d.responseCode ? `HTTP ${d.responseCode}` : '',
      d.lastError || '',
    ].filter(Boolean).join(' · ') }))));
}

function endpointRow(app, endpoint, opener) {
  const status = endpoint.enabled
    ? h('span', { class: 'badge badge-activated', dataset: { hookStatus: 'enabled' }, text: t('hooks.enabled') })
    : [h('span', { class: 'badge badge-failed', dataset: { hookStatus: 'disabled' }, text: t('hooks.disabled') }), h('div', { class: 'sub' }, timeEl(endpoint.disabledAt))];
  const act = (action, label, fn) => h('button', { type: 'button', class: action === 'delete-hook' ? 'link link-danger' : 'link', dataset: { action }, text: label, onclick: fn });
  return h('tr', { dataset: { hookId: endpoint.id, hookUrl: endpoint.url } },
    h('td', {}, h('code', { class: 'hook-url', text: endpoint.url }),
      endpoint.failingSince ? h('div', { class: 'sub', text: t('hooks.failingSince') }, ' ', timeEl(endpoint.failingSince)) : null),
    h('td', {}, h('ul', { class: 'plain-list' }, endpoint.events.map((e) => h('li', { text: t(`hooks.event.${e}`) })))),
    h('td', {}, status),
    h('td', {}, deliveriesList(endpoint)),
    h('td', {},
      endpoint.enabled ? null : act('enable-hook', t('hooks.enable'), () => mutate(app, opener, () => app.client.updateWebhookEndpoint({ id: endpoint.id }), t('hooks.enabledAgain'))),
      act('rotate-hook', t('hooks.rotate'), async () => {
        const p = await app.client.rotateWebhookSecret(endpoint.id);
        if (p.userErrors.length > 0) {
          openWebhooks(app, opener, p.userErrors.map((e) => ({ text: e.message, code: e.code })));
          return;
        }
        secretView(app, p.endpoint, p.secret, opener);
      }),
      act('delete-hook', t('hooks.delete'), () => mutate(app, opener, () => app.client.deleteWebhookEndpoint(endpoint.id), t('hooks.deleted')))));
}

/** mutate runs a mutation on an endpoint and shows the list again with its outcome. */
async function mutate(app, opener, fn, success) {
  let p;
  try {
    p = await fn();
  } catch (err) {
    openWebhooks(app, opener, [{ text: String(err.message || err) }]);
    return;
  }
  if (p.userErrors.length > 0) {
    openWebhooks(app, opener, p.userErrors.map((e) => ({ text: e.message, code: e.code })));
    return;
  }
  openWebhooks(app, opener, [{ text: success, kind: 'success' }]);
}

/**
 * openWebhooks shows the organization's webhook endpoints and the form
 * that registers one. notice, if given, is shown in the view's alert.
 */
export async function openWebhooks(app, opener, notice) {
  const box = alertBox();
  let endpoints;
  try {
    endpoints = await app.client.webhookEndpoints();
  } catch (err) {
    app.failed(err, box);
    return;
  }
  const url = field({ name: 'url', label: t('hooks.url'), maxlength: 2000, required: true, hint: t('hooks.urlHint'), type: 'url' });
  const boxes = eventTypes.map((e) => {
    const input = h('input', { type: 'checkbox', name: 'events', value: e, id: `hook-event-${e}` });
    return { input, wrap: h('div', { class: 'check' }, input, ' ', h('label', { for: input.id, text: t(`hooks.event.${e}`) })) };
  });
  const eventsError = h('p', { class: 'field-error', hidden: true, dataset: { errorFor: 'events' } });
  const events = { name: 'events', input: boxes[0].input, error: eventsError };
  const legend = h('legend', { text: t('hooks.events') });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('hooks.create') });
  const form = h('form', { class: 'form', novalidate: true, dataset: { form: 'create-hook' } },
    url.wrap, h('fieldset', { class: 'plain' }, legend, ...boxes.map((b) => b.wrap), eventsError),
    h('div', { class: 'dialog-actions' }, submit));
  let view = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors([url, events]);
    showAlert(box, null);
    const chosen = boxes.filter((b) => b.input.checked).map((b) => b.input.value);
    let p;
    try {
      p = await busy(submit, () => app.client.createWebhookEndpoint(url.input.value.trim(), chosen));
    } catch (err) {
      app.failed(err, box);
      return;
    }
    if (!viewOpen(view)) return;
    if (p.userErrors.length > 0) {
      const first = showUserErrors(p.userErrors, [url, events], box);
      if (first) first.focus();
      return;
    }
    secretView(app, p.endpoint, p.secret, opener);
  });

  const table = h('table', { class: 'keys', dataset: { hooks: 'true' } },
    h('thead', {}, h('tr', {},
      ['hooks.colUrl', 'hooks.colEvents', 'hooks.colStatus', 'hooks.colDeliveries', 'hooks.colActions']
        .map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', {}, endpoints.map((e) => endpointRow(app, e, opener))));
  view = openDialog({
    kind: 'hooks',
    title: t('hooks.title'),
    content: [h('p', { class: 'intro', text: t('hooks.intro') }), box,
      endpoints.length > 0 ? h('div', { class: 'table-wrap' }, table) : h('p', { class: 'muted', text: t('hooks.none') }),
      h('h3', { text: t('hooks.newTitle') }), form],
    focus: url.input,
    returnFocus: () => opener,
  });
  if (notice) showAlert(box, notice, notice[0].kind || 'error');
}

/** secretView shows an endpoint's new secret, once. */
function secretView(app, endpoint, secret, opener) {
  const id = 'new-hook-secret';
  const input = h('input', { id, type: 'text', readonly: true, class: 'secret', spellcheck: 'false', autocomplete: 'off', dataset: { secret: 'true' } });
  input.value = secret;
  const done = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'hooks-back' }, text: t('keys.done') });
  done.addEventListener('click', () => {
    input.value = '';
    openWebhooks(app, opener);
  });
  openDialog({
    kind: 'hook-secret',
    title: t('hooks.secretTitle', { url: endpoint.url }),
    content: [
      h('p', { class: 'alert alert-warning', text: t('hooks.secretOnce') }),
      h('div', { class: 'field' }, h('label', { for: id, text: t('hooks.secret') }), input),
      h('div', { class: 'dialog-actions' }, done),
    ],
    focus: input,
    returnFocus: () => opener,
    onClose: () => { input.value = ''; },
  });
  input.select();
}
