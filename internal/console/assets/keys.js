// The organization's API keys: a list with when each was last used, a form
// that creates a key and shows its secret once, and revoking a key. The
// API refuses to revoke the organization's last key (LAST_API_KEY); the
// console says so as it says any user error.

import { h } from './dom.js';
import { t } from './i18n.js';
import {
  alertBox, busy, clearFieldErrors, closeDialog, field, openDialog, showAlert, showUserErrors, timeEl, viewOpen,
} from './ui.js';

/** isOwn reports whether key is the one this console signs in with. */
function isOwn(app, key) {
  const own = app.key();
  return Boolean(own) && own.startsWith(key.prefix) && !key.revokedAt;
}

function keyRow(app, key, onRevoke) {
  const own = isOwn(app, key);
  const status = key.revokedAt
    ? [h('span', { class: 'badge badge-failed', dataset: { keyStatus: 'revoked' }, text: t('keys.revokedAt') }), h('div', { class: 'sub' }, timeEl(key.revokedAt))]
    : h('span', { class: 'badge badge-activated', dataset: { keyStatus: 'active' }, text: t('keys.active') });
  return h('tr', { dataset: { keyId: key.id, keyName: key.name } },
    h('td', {}, h('span', { class: 'key-name', text: key.name }), own ? h('div', { class: 'sub', text: t('keys.own') }) : null),
    h('td', {}, h('code', { class: 'key-prefix', text: `${key.prefix}…` })),
    h('td', {}, timeEl(key.createdAt)),
    h('td', {}, key.lastUsedAt ? timeEl(key.lastUsedAt) : h('span', { class: 'muted', text: t('keys.neverUsed') })),
    h('td', {}, status),
    h('td', {}, key.revokedAt ? null : h('button', {
      type: 'button', class: 'link link-danger', dataset: { action: 'revoke-key' },
      'aria-label': t('keys.revokeLabel', { name: key.name }), text: t('keys.revoke'), onclick: () => onRevoke(key),
    })));
}

/**
 * openKeys shows the organization's API keys and the form that creates
 * one. notice, if given, is shown in the view's alert.
 */
export async function openKeys(app, opener, notice) {
  const box = alertBox();
  let keys;
  try {
    keys = await app.client.apiKeys();
  } catch (err) {
    app.failed(err, box);
    return;
  }
  const name = field({ name: 'name', label: t('keys.name'), maxlength: 200, required: true, hint: t('keys.nameHint') });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('keys.create') });
  const form = h('form', { class: 'form', novalidate: true, dataset: { form: 'create-key' } },
    name.wrap, h('div', { class: 'dialog-actions' }, submit));
  let view = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors([name]);
    showAlert(box, null);
    let p;
    try {
      p = await busy(submit, () => app.client.createApiKey(name.input.value.trim()));
    } catch (err) {
      app.failed(err, box);
      return;
    }
    if (!viewOpen(view)) return;
    if (p.userErrors.length > 0) {
      const first = showUserErrors(p.userErrors, [name], box);
      if (first) first.focus();
      return;
    }
    secretView(app, p.apiKey, p.secret, opener);
  });

  const revoke = (key) => revokeView(app, key, opener);
  const table = h('table', { class: 'keys', dataset: { keys: 'true' } },
    h('thead', {}, h('tr', {},
      ['keys.colName', 'keys.colPrefix', 'keys.colCreated', 'keys.colLastUsed', 'keys.colStatus', 'keys.colActions']
        .map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', {}, keys.map((k) => keyRow(app, k, revoke))));
  view = openDialog({
    kind: 'keys',
    title: t('keys.title'),
    content: [h('p', { class: 'intro', text: t('keys.intro') }), box, h('div', { class: 'table-wrap' }, table),
      h('h3', { text: t('keys.newTitle') }), form],
    focus: name.input,
    returnFocus: () => opener,
  });
  if (notice) showAlert(box, notice, notice[0].kind || 'error');
}

/** secretView shows a new key's secret, once. */
function secretView(app, key, secret, opener) {
  const id = 'new-key-secret';
  const input = h('input', { id, type: 'text', readonly: true, class: 'secret', spellcheck: 'false', autocomplete: 'off', dataset: { secret: 'true' } });
  input.value = secret;
  const copy = h('button', { type: 'button', class: 'btn', text: t('keys.copy') });
  copy.addEventListener('click', async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(secret);
      app.toast(t('keys.copied'));
    } catch {
      // no clipboard access: the text is selected for the admin to copy
    }
  });
  const done = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'keys-back' }, text: t('keys.done') });
  done.addEventListener('click', () => {
    input.value = '';
    openKeys(app, opener);
  });
  openDialog({
    kind: 'key-secret',
    title: t('keys.secretTitle', { name: key.name }),
    content: [
      h('p', { class: 'alert alert-warning', text: t('keys.secretOnce') }),
      h('div', { class: 'field' }, h('label', { for: id, text: t('keys.secret') }), input),
      h('div', { class: 'dialog-actions' }, copy, done),
    ],
    focus: input,
    returnFocus: () => opener,
    onClose: () => { input.value = ''; },
  });
  input.select();
}

/** revokeView asks to confirm revoking a key. */
function revokeView(app, key, opener) {
  const box = alertBox();
  const own = isOwn(app, key);
  const submit = h('button', { type: 'button', class: 'btn btn-danger', dataset: { action: 'confirm-revoke' }, text: t('keys.revoke') });
  const back = h('button', { type: 'button', class: 'btn', text: t('dialog.cancel'), onclick: () => openKeys(app, opener) });
  let view = null;
  submit.addEventListener('click', async () => {
    showAlert(box, null);
    let p;
    try {
      p = await busy(submit, () => app.client.revokeApiKey(key.id));
    } catch (err) {
      app.failed(err, box);
      return;
    }
    if (!viewOpen(view)) return;
    if (p.userErrors.length > 0) {
      showUserErrors(p.userErrors, [], box);
      return;
    }
    if (own) {
      // The console's own key: its next request is refused.
      closeDialog(view);
      app.signOut(t('keys.ownRevoked', { name: key.name }));
      return;
    }
    openKeys(app, opener, [{ text: t('keys.revoked', { name: key.name }), kind: 'success' }]);
  });
  view = openDialog({
    kind: 'revoke-key',
    title: t('keys.revokeTitle'),
    content: [
      h('p', { class: 'intro', text: t('keys.revokeConfirm', { name: key.name, prefix: key.prefix }) }),
      own ? h('p', { class: 'alert alert-warning', text: t('keys.revokeOwn') }) : null,
      box,
      h('div', { class: 'dialog-actions' }, back, submit),
    ],
    focus: back,
    returnFocus: () => opener,
  });
}
