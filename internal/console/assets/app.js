// The console's entry module: the API key, the member list with its filters
// and pages, and the actions of each row. The dialogs are in dialogs.js.

import { $, h, replace, uid } from './dom.js';
import { Client } from './api.js';
import { applyStatic, formatNumber, initLang, lang, sentence, setLang, t } from './i18n.js';
import { closeDialog, emailEl, initDialog, showAlert, statusBadge, timeEl } from './ui.js';
import { openBindFlow, openCreate, openDetails, openRemove } from './dialogs.js';
import { openKeys } from './keys.js';
import { openWebhooks } from './webhooks.js';

/** keyStorage is the sessionStorage entry holding the API key. */
const keyStorage = 'memberbind.console.apiKey';

/** keyShape is what an API key looks like (DESIGN.md §2). */
const keyShape = /^mb_[A-Za-z0-9_-]{43,}$/;

const state = {
  key: null,
  filter: { search: '', bindStatus: '', memberType: '' },
  pageSize: 20,
  // cursors[i] is the after-cursor of page i+1; the last one is the page
  // shown. Keyset pages can only be walked, so going back pops.
  cursors: [null],
  conn: null, // the last members connection shown
  policy: null, // the organization's binding policy, from the last list read
  seq: 0, // the newest list request; older answers are dropped
  focusAfterLoad: null, // a member id whose row takes the focus once drawn
  toastTimer: null,
  stopLive: null, // ends the memberChanged subscription
  reloadTimer: null, // a list read the subscription asked for
};

const client = new Client(document.body.dataset.endpoint || '/graphql', () => state.key);

// The API key ---------------------------------------------------------------

function readStoredKey() {
  try {
    return sessionStorage.getItem(keyStorage);
  } catch {
    return null;
  }
}

function storeKey(key) {
  try {
    sessionStorage.setItem(keyStorage, key);
  } catch {
    // session storage off: the key lives in this page only
  }
}

function dropStoredKey() {
  try {
    sessionStorage.removeItem(keyStorage);
  } catch {
    // nothing stored
  }
}

/**
 * keyFromURL takes a key from a #key=mb_… fragment and removes the
 * fragment from the address bar and the history entry, so that the key is
 * neither bookmarked nor left on screen.
 */
function keyFromURL() {
  if (!location.hash) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get('key');
  if (key === null) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  return key.trim();
}

/**
 * showKeyForm asks for the API key, with message under the field if
 * given. value, if given, is put back in the field: the key a link
 * carried, so that the message is about what the field holds.
 */
function showKeyForm(message, value) {
  $('members-section').hidden = true;
  $('forget-key').hidden = true;
  $('org-name').hidden = true;
  $('key-section').hidden = false;
  const err = $('key-error');
  err.hidden = !message;
  err.textContent = message || '';
  const input = $('key-input');
  if (value !== undefined) input.value = value;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  input.focus();
}

function useKey(key) {
  state.key = key;
  storeKey(key);
  $('key-input').value = '';
  $('key-section').hidden = true;
  $('members-section').hidden = false;
  $('forget-key').hidden = false;
  state.cursors = [null];
  loadList();
  startLive();
}

function forgetKey(message) {
  if (state.stopLive) state.stopLive();
  state.stopLive = null;
  state.key = null;
  state.conn = null;
  state.seq += 1; // drop answers still on their way
  dropStoredKey();
  closeDialog();
  $('members-body').replaceChildren();
  $('org-name').textContent = '';
  showKeyForm();
  if (message) toast(message);
}

// Messages -----------------------------------------------------------------

function showBanner(text) {
  $('banner-text').textContent = text;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
  $('banner-text').textContent = '';
}

function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => {
    el.hidden = true;
    el.textContent = '';
  }, 8000);
}

/**
 * failed reports a request that failed at the GraphQL or network level: in
 * the banner, and in the dialog's alert box when one is open. A refused key
 * sends the admin back to the key form.
 */
function failed(err, box) {
  const code = err.code || 'ERROR';
  const message = err.message || String(err);
  if (code === 'UNAUTHENTICATED') {
    forgetKey();
    showBanner(t('banner.unauthenticated', { code, message }));
    return;
  }
  const text = t(code === 'NETWORK' ? 'banner.network' : 'banner.error', { code, message });
  showBanner(text);
  if (box) showAlert(box, [{ text, code }]);
  if (!(err instanceof Error) || err.name !== 'GraphQLError') console.error(err);
}

// The member list ------------------------------------------------------------

function currentFilter() {
  const f = state.filter;
  return {
    search: f.search || null,
    bindStatus: f.bindStatus || null,
    memberType: f.memberType || null,
  };
}

function filtered() {
  const f = state.filter;
  return Boolean(f.search || f.bindStatus || f.memberType);
}

async function loadList() {
  const seq = ++state.seq;
  const table = $('members-table');
  table.setAttribute('aria-busy', 'true');
  if (!state.conn) $('list-range').textContent = t('list.loading');
  let data;
  try {
    data = await client.members({
      first: state.pageSize,
      after: state.cursors[state.cursors.length - 1],
      filter: currentFilter(),
    });
  } catch (err) {
    if (seq !== state.seq) return;
    table.removeAttribute('aria-busy');
    failed(err);
    return;
  }
  if (seq !== state.seq) return;
  table.removeAttribute('aria-busy');
  hideBanner();
  const org = $('org-name');
  org.textContent = data.organization.name;
  org.hidden = false;
  state.policy = data.organization.policy;
  // A page emptied by a removal: show the one before it.
  if (data.members.edges.length === 0 && state.cursors.length > 1) {
    state.cursors.pop();
    loadList();
    return;
  }
  state.conn = data.members;
  renderList();
}

// Live updates ----------------------------------------------------------------

/**
 * startLive follows every change of the organization's members, made here
 * or anywhere else (another admin, the member confirming its link, the
 * mail server's answer), so that the list is never stale: a member shown
 * is redrawn in place; a change that may move members onto or off the
 * page shown (a new member, a removal, a filter it may no longer match)
 * reads the page again.
 */
function startLive() {
  if (state.stopLive) state.stopLive();
  state.stopLive = client.live(onMemberChanged, reloadSoon);
}

function onMemberChanged(m) {
  const conn = state.conn;
  if (!conn) return;
  const edge = conn.edges.find((e) => e.node.id === m.id);
  if (edge && !m.removedAt && !filtered()) {
    edge.node = m;
    renderList();
    return;
  }
  if (edge || state.cursors.length === 1) reloadSoon();
}

/** reloadSoon reads the list again, once for a burst of changes. */
function reloadSoon() {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => {
    if (state.key) loadList();
  }, 200);
}

/**
 * td is a table cell labelled for the card layout of small screens, where
 * the label comes first and the content, in one box, beside it.
 */
function td(labelKey, cls, ...children) {
  return h('td', { role: 'cell', class: cls || null, dataset: { label: t(labelKey) } }, h('div', { class: 'cell' }, ...children));
}

function rowActions(m) {
  const actions = h('div', { class: 'row-actions' });
  const notes = [];
  if (m.memberType === 'INVITED') {
    const noteId = uid('invited-note');
    actions.append(h('button', {
      type: 'button', class: 'link', disabled: true, 'aria-describedby': noteId,
      dataset: { action: 'bind' }, text: t('action.bind'),
    }));
    notes.push(h('p', { id: noteId, class: 'row-note', dataset: { note: 'invited' }, text: t('action.invitedNote') }));
  } else if (m.bindStatus !== 'ACTIVATED') {
    const action = { UNBOUND: 'bind', PENDING: 'activate', FAILED: 'failed' }[m.bindStatus];
    actions.append(h('button', { type: 'button', class: 'link', dataset: { action }, text: t(`action.${action}`) }));
  }
  if (m.removal.allowed) {
    actions.append(h('button', { type: 'button', class: 'link link-danger', dataset: { action: 'remove' }, text: t('action.remove') }));
  } else {
    const reasonsId = uid('remove-reasons');
    actions.append(
      h('button', {
        type: 'button', class: 'link', disabled: true, 'aria-describedby': reasonsId,
        dataset: { action: 'remove' }, text: t('action.remove'),
      }),
      h('button', {
        type: 'button', class: 'why', 'aria-expanded': 'false', 'aria-controls': reasonsId,
        'aria-label': t('action.whyRemove', { name: m.name }), dataset: { action: 'why' }, text: t('action.why'),
      }));
    const reasons = m.removal.reasons;
    notes.push(h('div', { id: reasonsId, class: 'row-note reasons', hidden: true, dataset: { note: 'removal' } },
      h('p', { class: 'reasons-head', text: t('action.cantRemove') }),
      reasons.length === 1 ? h('p', { text: sentence(reasons[0]) }) : h('ul', {}, reasons.map((r) => h('li', { text: sentence(r) })))));
  }
  return [actions, ...notes];
}

function memberRow(m) {
  const si = m.securityInfo;
  let sub = null;
  if (si && m.bindStatus === 'PENDING') sub = t('row.pendingTo', { email: si.email });
  if (si && m.bindStatus === 'FAILED') sub = t('row.failedEmail', { email: si.email });
  return h('tr', { role: 'row', dataset: { memberId: m.id, status: m.bindStatus, type: m.memberType } },
    td('col.name', 'col-name',
      h('button', { type: 'button', class: 'link member-name', dataset: { action: 'details' }, title: t('row.showDetails', { name: m.name }), text: m.name }),
      m.remark ? h('div', { class: 'remark', text: m.remark }) : null),
    td('col.type', null, t(`type.${m.memberType}`)),
    td('col.status', null, statusBadge(m.bindStatus), sub ? h('div', { class: 'sub', text: sub }) : null),
    td('col.loginEmail', 'col-email', m.loginEmail ? emailEl(m.loginEmail) : h('span', { class: 'muted', text: t('common.none') })),
    td('col.created', null, timeEl(m.createdAt)),
    td('col.actions', 'col-actions', ...rowActions(m)));
}

/** focusKey says which row control has the focus, to find it again after a redraw. */
function focusKey() {
  const el = document.activeElement;
  const row = el && el.closest ? el.closest('#members-body tr[data-member-id]') : null;
  if (!row) return null;
  return { id: row.dataset.memberId, action: el.dataset.action || null };
}

/**
 * rowControl finds a control of a member's row: the one for action, else
 * the row's first enabled action, else the member's name. With no id, the
 * first member's name, else the "Create member" button.
 */
function rowControl(id, action) {
  if (!id) {
    return document.querySelector('#members-body button.member-name') || $('create-member');
  }
  const row = document.querySelector(`#members-body tr[data-member-id="${CSS.escape(id)}"]`);
  if (!row) return null;
  return (action && row.querySelector(`button[data-action="${CSS.escape(action)}"]:not([disabled])`))
    || row.querySelector('.row-actions button:not([disabled])')
    || row.querySelector('button.member-name');
}

function renderList() {
  const conn = state.conn;
  if (!conn) return;
  const keep = focusKey();
  const rows = conn.edges.map((e) => memberRow(e.node));
  replace($('members-body'), rows);

  const empty = $('members-empty');
  empty.hidden = rows.length > 0;
  empty.textContent = rows.length > 0 ? '' : t(filtered() ? 'list.emptyFiltered' : 'list.emptyAll');
  $('members-table').classList.toggle('is-empty', rows.length === 0);

  const page = state.cursors.length;
  const from = (page - 1) * state.pageSize + 1;
  const to = from + rows.length - 1;
  $('list-range').textContent = rows.length > 0 ? t('list.range', { from, to, total: conn.totalCount }) : '';
  // A search by a part of a name or email looks only at the newest
  // members; say so, with the way to find anyone, even when it found none.
  const scope = $('list-scope');
  scope.hidden = !conn.searchedOnlyNewest;
  scope.textContent = conn.searchedOnlyNewest ? t('list.searchedNewest', { count: formatNumber(conn.searchedOnlyNewest) }) : '';
  $('page-info').textContent = t('pager.page', { page });
  $('page-prev').disabled = page <= 1;
  $('page-next').disabled = !conn.pageInfo.hasNextPage;

  let target = state.focusAfterLoad ? rowControl(state.focusAfterLoad, 'bind') : keep ? rowControl(keep.id, keep.action) : null;
  state.focusAfterLoad = null;
  // A pager button that just got disabled (first or last page) hands the
  // focus to the other one rather than dropping it.
  const pager = document.activeElement;
  if (!target && (pager === $('page-prev') || pager === $('page-next')) && pager.disabled) {
    target = pager === $('page-prev') ? $('page-next') : $('page-prev');
  }
  if (target && !target.disabled && !$('dialog').open) target.focus();
}

function applyFilters() {
  state.filter = {
    search: $('filter-search').value.trim(),
    bindStatus: $('filter-status').value,
    memberType: $('filter-type').value,
  };
  state.cursors = [null];
  loadList();
}

// What the dialogs call back --------------------------------------------------

const app = {
  client,
  /** policy is the organization's binding policy, or null before the first read. */
  policy() {
    return state.policy;
  },
  toast,
  failed,
  changed() {
    loadList();
  },
  created(member) {
    state.cursors = [null]; // newest first: the new member is on page one
    state.focusAfterLoad = member.id;
    loadList();
  },
  removed() {
    loadList();
  },
  focusRow(id, action) {
    return () => rowControl(id, action);
  },
  /** key is the API key the console signs in with. */
  key() {
    return state.key;
  },
  /** signOut forgets the key (it was revoked) and says why. */
  signOut(message) {
    forgetKey(message);
  },
};

// Wiring ------------------------------------------------------------------------

function onRowClick(ev) {
  const button = ev.target.closest('button[data-action]');
  if (!button || button.disabled) return;
  const row = button.closest('tr[data-member-id]');
  if (!row) return;
  const id = row.dataset.memberId;
  switch (button.dataset.action) {
    case 'details':
      openDetails(app, id);
      break;
    case 'bind':
    case 'activate':
    case 'failed':
      openBindFlow(app, id);
      break;
    case 'remove':
      openRemove(app, id);
      break;
    case 'why': {
      const note = document.getElementById(button.getAttribute('aria-controls'));
      const open = button.getAttribute('aria-expanded') === 'true';
      button.setAttribute('aria-expanded', String(!open));
      note.hidden = open;
      break;
    }
    default:
  }
}

function wire() {
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) {
      showKeyForm(t('key.required'));
      return;
    }
    if (!keyShape.test(key)) {
      showKeyForm(t('key.shape'));
      return;
    }
    hideBanner();
    useKey(key);
  });
  $('forget-key').addEventListener('click', () => forgetKey(t('key.forgotten')));
  $('banner-close').addEventListener('click', hideBanner);

  $('lang').addEventListener('change', (ev) => {
    setLang(ev.target.value);
    applyStatic(document);
    $('toast').hidden = true; // it was said in the other language
    renderList();
  });

  $('create-member').addEventListener('click', (ev) => openCreate(app, 'CREATED', ev.currentTarget));
  $('invite-member').addEventListener('click', (ev) => openCreate(app, 'INVITED', ev.currentTarget));
  $('api-keys').addEventListener('click', (ev) => openKeys(app, ev.currentTarget));
  $('webhooks').addEventListener('click', (ev) => openWebhooks(app, ev.currentTarget));

  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    applyFilters();
  });
  $('filter-status').addEventListener('change', applyFilters);
  $('filter-type').addEventListener('change', applyFilters);
  let searchTimer = null;
  $('filter-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applyFilters, 350);
  });
  $('filter-reset').addEventListener('click', () => {
    $('filter-search').value = '';
    $('filter-status').value = '';
    $('filter-type').value = '';
    applyFilters();
  });

  // A #key= link opened on a console that is already loaded.
  window.addEventListener('hashchange', () => {
    const key = keyFromURL();
    if (key === null) return;
    if (!keyShape.test(key)) {
      forgetKey();
      showKeyForm(t('key.linkShape'), key);
      return;
    }
    hideBanner();
    useKey(key);
  });

  $('members-body').addEventListener('click', onRowClick);
  $('page-prev').addEventListener('click', () => {
    if (state.cursors.length > 1) state.cursors.pop();
    loadList();
  });
  $('page-next').addEventListener('click', () => {
    if (state.conn && state.conn.pageInfo.hasNextPage) {
      state.cursors.push(state.conn.pageInfo.endCursor);
      loadList();
    }
  });
  $('page-size').addEventListener('change', (ev) => {
    state.pageSize = Number(ev.target.value) || 20;
    state.cursors = [null];
    loadList();
  });
}

function boot() {
  initLang();
  $('lang').value = lang();
  applyStatic(document);
  initDialog();
  wire();
  document.body.dataset.ready = 'true';
  const fromLink = keyFromURL();
  if (fromLink !== null && !keyShape.test(fromLink)) {
    showKeyForm(t(fromLink ? 'key.linkShape' : 'key.linkEmpty'), fromLink);
    return;
  }
  const key = fromLink || readStoredKey();
  if (key) {
    useKey(key);
  } else {
    showKeyForm();
  }
}

boot();
