// Widgets the console's views share: times, status badges, form fields with
// their errors, alerts, and the one modal dialog.

import { h, replace, $, uid } from './dom.js';
import { t, formatTime, userErrorMessage } from './i18n.js';

/**
 * tn is t() for sentences holding elements: the {name} placeholders are
 * replaced by the nodes (or strings) in vars, and the result is a list of
 * nodes and strings for h() or append().
 */
export function tn(key, vars) {
  const template = t(key);
  const out = [];
  let last = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    out.push(template.slice(last, m.index));
    const v = vars[m[1]];
    out.push(v === undefined || v === null ? m[0] : v);
    last = m.index + m[0].length;
  }
  out.push(template.slice(last));
  return out.filter((x) => x !== '');
}

/** timeEl shows an instant in local time, with the UTC ISO as its title. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted', text: t('common.none') });
  return h('time', { datetime: iso, title: `${iso} (UTC)`, text: formatTime(iso) });
}

/** statusBadge shows a bind status. */
export function statusBadge(status) {
  return h('span', {
    class: `badge badge-${status.toLowerCase()}`,
    dataset: { status },
    text: t(`status.${status}`),
  });
}

/**
 * maskPhone shows a mobile number with its middle hidden:
 * (86, +8613800138000) -> +86 138****8000.
 */
export function maskPhone(countryCode, e164) {
  if (!e164) return '';
  const cc = String(countryCode || '');
  let national = e164.replace(/^\+/, '');
  if (cc && national.startsWith(cc)) national = national.slice(cc.length);
  if (national.length <= 4) return `+${cc} ${national}`;
  const keep = national.length >= 9 ? 3 : 1;
  const hidden = Math.max(national.length - keep - 4, 1);
  return `+${cc} ${national.slice(0, keep)}${'*'.repeat(hidden)}${national.slice(-4)}`;
}

/**
 * emailEl shows an email address that a line may break only before its @:
 * the local part and the domain are each kept whole (console.css), and a
 * part too long for a narrow screen is cut short with an ellipsis, the
 * whole address in the title.
 */
export function emailEl(email, tag = 'span') {
  const at = email.lastIndexOf('@');
  if (at <= 0) return h(tag, { class: 'email', text: email });
  return h(tag, { class: 'email', title: email },
    h('span', { class: 'email-part', text: email.slice(0, at) }),
    h('wbr', {}),
    h('span', { class: 'email-part', text: email.slice(at) }));
}

/** plusCode writes a country calling code with its +. */
export function plusCode(cc) {
  if (!cc) return '';
  return cc.startsWith('+') ? cc : `+${cc}`;
}

/** dl builds a description list from [term, value] pairs (null pairs skipped). */
export function dl(cls, pairs) {
  const list = h('dl', { class: cls || 'facts' });
  for (const p of pairs) {
    if (!p) continue;
    const [term, value, name] = p;
    list.append(h('div', { class: 'fact', dataset: { fact: name || null } }, h('dt', { text: term }), h('dd', {}, value)));
  }
  return list;
}

/**
 * field builds a labelled input with a hint and an error slot. It returns
 * { wrap, input, error, name }. opts: name, label, type, value, autocomplete,
 * inputmode, hint, required, multiline, maxlength, cls, autofocus.
 */
export function field(opts) {
  const id = uid(`f-${opts.name}`);
  const errorId = `${id}-error`;
  const hintId = opts.hint ? `${id}-hint` : null;
  const attrs = {
    id,
    name: opts.name,
    autocomplete: opts.autocomplete || 'off',
    inputmode: opts.inputmode || null,
    maxlength: opts.maxlength || null,
    required: opts.required || null,
    spellcheck: opts.spellcheck === undefined ? null : String(opts.spellcheck),
    'aria-describedby': [hintId, errorId].filter(Boolean).join(' '),
    dataset: { field: opts.name },
  };
  let input;
  if (opts.multiline) {
    input = h('textarea', { ...attrs, rows: 3 });
    input.value = opts.value || '';
  } else {
    input = h('input', { ...attrs, type: opts.type || 'text' });
    input.value = opts.value || '';
  }
  const error = h('p', { id: errorId, class: 'field-error', hidden: true, dataset: { errorFor: opts.name } });
  const wrap = h('div', { class: `field ${opts.cls || ''}`.trim() },
    h('label', { for: id, text: opts.label }),
    input,
    opts.hint ? h('p', { id: hintId, class: 'hint', text: opts.hint }) : null,
    error);
  return { wrap, input, error, name: opts.name };
}

/** setFieldError shows a message at a field and marks it invalid. */
export function setFieldError(f, message, code) {
  f.error.textContent = message;
  f.error.hidden = false;
  if (code) f.error.dataset.code = code;
  f.input.setAttribute('aria-invalid', 'true');
}

/** clearFieldErrors hides the errors of fields. */
export function clearFieldErrors(fields) {
  for (const f of fields) {
    f.error.hidden = true;
    f.error.textContent = '';
    delete f.error.dataset.code;
    f.input.removeAttribute('aria-invalid');
  }
}

/** alertBox is a dialog-level message area, hidden until used. */
export function alertBox() {
  return h('div', { class: 'alert', role: 'alert', hidden: true });
}

/** showAlert fills an alert box with messages ({text, code}) or hides it. */
export function showAlert(box, messages, kind = 'error') {
  if (!messages || messages.length === 0) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.className = `alert alert-${kind}`;
  if (messages.length === 1) {
    replace(box, h('p', { text: messages[0].text, dataset: { code: messages[0].code || null } }));
  } else {
    replace(box, h('ul', {}, messages.map((m) => h('li', { text: m.text, dataset: { code: m.code || null } }))));
  }
  box.hidden = false;
}

/**
 * showUserErrors puts each user error at the field it names, and the
 * others in the alert box. It returns the first field input at fault, to be
 * focused, or null.
 */
export function showUserErrors(userErrors, fields, box) {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const general = [];
  let first = null;
  for (const e of userErrors) {
    const path = Array.isArray(e.field) ? e.field : [];
    const f = byName.get(path[path.length - 1]);
    const text = userErrorMessage(e);
    if (f) {
      setFieldError(f, text, e.code);
      if (!first) first = f.input;
    } else {
      general.push({ text, code: e.code });
    }
  }
  if (general.length === 0 && first) {
    showAlert(box, [{ text: t('dialog.errorsIntro') }]);
  } else {
    showAlert(box, general);
  }
  return first;
}

/** busy marks a button as working while fn runs, and restores it after. */
export async function busy(button, fn) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = t('common.working');
  try {
    return await fn();
  } finally {
    button.textContent = label;
    button.removeAttribute('aria-busy');
    button.disabled = false;
  }
}

// The modal dialog. There is one; a session of it lasts from showModal to
// close, and within a session one view may replace another ("Bind again"
// turns the failed view into the form). Closing returns the focus to where
// the session was opened from, found again by a function because the list
// may have been redrawn since. The browser reports a close with an event it
// queues, so a new session may begin before the old one's close event
// arrives: each session and view is ended once, by whichever comes first.
let session = null; // { returnFocus }
let currentView = null; // { onClose, closed }

function endView() {
  const v = currentView;
  currentView = null;
  if (!v) return;
  v.closed = true;
  if (v.onClose) v.onClose();
}

function endSession(restoreFocus) {
  endView();
  const s = session;
  session = null;
  if (!s || !restoreFocus || !s.returnFocus) return;
  const el = s.returnFocus();
  if (el && el.isConnected) el.focus();
}

/** dialogEl is the page's <dialog>. */
export function dialogEl() {
  return $('dialog');
}

/**
 * openDialog shows a view in the modal dialog and returns it (for viewOpen
 * and closeDialog). opts: kind (a name for the view), title, content
 * (nodes), focus (the element to focus, else the first field or button),
 * returnFocus (a function giving the element to focus after closing),
 * onClose (called when the view goes, closed or replaced).
 */
export function openDialog(opts) {
  const dlg = dialogEl();
  if (dlg.open && session) {
    endView();
    if (opts.returnFocus !== undefined) session.returnFocus = opts.returnFocus;
  } else {
    endSession(false);
    session = { returnFocus: opts.returnFocus || null };
  }
  const view = { onClose: opts.onClose || null, closed: false };
  currentView = view;
  dlg.dataset.kind = opts.kind;
  $('dialog-title').textContent = opts.title;
  replace($('dialog-body'), ...opts.content);
  if (!dlg.open) dlg.showModal();
  const target = opts.focus || dlg.querySelector('#dialog-body :is(input, textarea, select, button):not([disabled]):not([hidden])');
  if (target) target.focus();
  dlg.scrollTop = 0;
  return view;
}

/**
 * viewOpen reports whether view is still what the dialog shows: an answer
 * that arrives after the admin closed or replaced it must not touch it.
 */
export function viewOpen(view) {
  return Boolean(view) && view === currentView && !view.closed && dialogEl().open;
}

/** closeDialog closes the dialog; given a view, only while it shows that view. */
export function closeDialog(view) {
  if (view && !viewOpen(view)) return;
  const dlg = dialogEl();
  if (dlg.open) dlg.close();
}

/** initDialog wires the close button and the end of a session. */
export function initDialog() {
  const dlg = dialogEl();
  $('dialog-close').addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    if (dlg.open) return; // a new session began before this event came; the old one ended then
    $('dialog-body').replaceChildren();
    delete dlg.dataset.kind;
    endSession(true);
  });
}
