// The dialogs of a member account: bind security information, its
// activation (send again, modify), a failed binding (bind again), create
// and invite, remove, and the member's details with its history. Each is a
// view of the one modal <dialog>; the seed's console walk-through names them.

import { $, h, uid } from './dom.js';
import { formatDuration, has, sentence, t, userErrorMessage } from './i18n.js';
import {
  alertBox, busy, clearFieldErrors, closeDialog, dl, field, maskPhone, openDialog, plusCode,
  showAlert, showUserErrors, statusBadge, timeEl, tn, viewOpen,
} from './ui.js';

/**
 * The app object every view gets:
 *   client            the GraphQL Client
 *   changed(member)   a mutation changed this member: redraw the list
 *   created(member)   a member was created or invited
 *   removed(member)   a member was removed
 *   toast(text)       a passing confirmation
 *   failed(err, box)  a request failed (GraphQL error or network)
 *   focusRow(id, action) a function that finds the element to focus after
 *                     the dialog closes
 */

/** defaultCountryCode is what the country code field starts with. */
const defaultCountryCode = '+86';

/** memberLine names the member a dialog is about. */
function memberLine(m) {
  return h('p', { class: 'dialog-member', text: t('dialog.member', { name: m.name }) });
}

function cancelButton() {
  return h('button', { type: 'button', class: 'btn', text: t('dialog.cancel'), onclick: () => closeDialog() });
}

/** load reads a member for a dialog; null (after saying why) when it cannot. */
async function load(app, id, box) {
  try {
    const m = await app.client.member(id);
    if (!m) {
      app.toast(t('dialog.gone'));
      app.changed(null);
      return null;
    }
    return m;
  } catch (err) {
    app.failed(err, box);
    return null;
  }
}

/**
 * openBindFlow opens what "Bind security information" leads to for the
 * member as it stands now: the bind form (UNBOUND), the activation dialog
 * (PENDING) or the failed dialog (FAILED). notice, if given, is shown in the
 * view's alert (a user error that led here).
 */
export async function openBindFlow(app, id, notice) {
  const m = await load(app, id);
  if (!m) return;
  showFor(app, m, notice);
}

function showFor(app, m, notice) {
  if (m.memberType === 'INVITED' || m.bindStatus === 'UNBOUND') {
    // An invited member gets the form too when it gets here (only from a
    // stale list): the API's INVITED_MEMBER answer then says why not.
    bindView(app, m, 'bind', notice);
  } else if (m.bindStatus === 'PENDING') {
    activateView(app, m, notice);
  } else if (m.bindStatus === 'FAILED') {
    failedView(app, m, notice);
  } else {
    openDetails(app, m.id);
  }
}

/** securityFields builds the email, country code and mobile number fields. */
function securityFields(values, opts = {}) {
  const email = field({
    name: 'email', label: t('field.email'), type: 'email', inputmode: 'email', value: values.email,
    hint: opts.emailHint ? t('field.emailHint') : null, spellcheck: false, maxlength: 254,
  });
  const countryCode = field({
    name: 'countryCode', label: t('field.countryCode'), value: values.countryCode || defaultCountryCode,
    inputmode: 'tel', maxlength: 4, cls: 'field-cc',
  });
  const phone = field({
    name: 'phone', label: t('field.phone'), type: 'tel', inputmode: 'tel', autocomplete: 'off',
    value: values.phone, maxlength: 32, cls: 'field-phone',
  });
  const group = h('fieldset', { class: 'phone-group' },
    h('legend', { text: t('field.mobile') }),
    h('div', { class: 'phone-row' }, countryCode.wrap, phone.wrap));
  return { email, countryCode, phone, all: [email, countryCode, phone], nodes: [email.wrap, group] };
}

/** securityInput reads the fields as a SecurityInfoInput. */
function securityInput(m, f) {
  return {
    memberId: m.id,
    email: f.email.input.value.trim(),
    countryCode: f.countryCode.input.value.trim(),
    phone: f.phone.input.value.trim(),
  };
}

/** nationalNumber is the national part of an E.164 number. */
function nationalNumber(si) {
  if (!si) return '';
  const digits = si.phone.replace(/^\+/, '');
  return digits.startsWith(si.countryCode) ? digits.slice(si.countryCode.length) : digits;
}

/**
 * linkNote says how long an activation link lives: the organization's
 * policy when the list has been read, the service's default otherwise.
 */
function linkNote(policy) {
  if (!policy) return t('bind.noteLink');
  return t('bind.noteLinkTTL', { ttl: formatDuration(policy.activationTTLSeconds) });
}

/**
 * bindView is the "Bind security information" form: bindSecurityInfo for
 * an unbound member, rebindSecurityInfo ("Bind again") for a failed one.
 */
function bindView(app, m, mode, notice) {
  const rebind = mode === 'rebind';
  const si = m.securityInfo;
  const f = securityFields({
    // Bind again: the failed email can never be bound again, so the email
    // starts empty; the mobile number is kept.
    email: '',
    countryCode: rebind && si ? plusCode(si.countryCode) : defaultCountryCode,
    phone: rebind ? nationalNumber(si) : '',
  }, { emailHint: true });
  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('dialog.submit') });
  const notes = h('ul', { class: 'notes' },
    rebind && si ? h('li', { class: 'note-strong', text: t('bind.rebindNote', { email: si.email }) }) : null,
    h('li', { text: t('bind.noteUnique') }),
    h('li', { text: t('bind.noteModify') }),
    h('li', { text: linkNote(app.policy()) }));
  const form = h('form', { class: 'form', novalidate: true, dataset: { form: mode } },
    ...f.nodes,
    h('div', { class: 'dialog-actions' }, cancelButton(), submit));
  let view = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(f.all);
    showAlert(box, null);
    let p;
    try {
      p = await busy(submit, () => app.client.mutate(rebind ? 'rebindSecurityInfo' : 'bindSecurityInfo', securityInput(m, f)));
    } catch (err) {
      app.failed(err, box);
      return;
    }
    if (p.member) app.changed(p.member);
    if (p.userErrors.length > 0) {
      if (!viewOpen(view)) return;
      const first = showUserErrors(p.userErrors, f.all, box);
      if (first) first.focus();
      return;
    }
    closeDialog(view);
    const email = p.member && p.member.securityInfo ? p.member.securityInfo.email : '';
    app.toast(t(rebind ? 'failed.done' : 'bind.done', { name: m.name, email }));
  });
  view = openDialog({
    kind: rebind ? 'rebind' : 'bind',
    title: t(rebind ? 'bind.rebindTitle' : 'bind.title'),
    content: [memberLine(m), notes, box, form],
    focus: f.email.input,
    returnFocus: app.focusRow(m.id, 'bind'),
  });
  if (notice) showAlert(box, notice);
}

/** deliveryNodes says how the newest link's mail is doing. */
function deliveryNodes(d) {
  if (!d) return [t('common.none')];
  // The schema names four statuses; say any other as it comes.
  const known = has(`delivery.${d.status}`);
  const out = [h('span', {
    class: `delivery delivery-${known ? d.status.toLowerCase() : 'other'}`,
    dataset: { delivery: d.status },
    text: known ? t(`delivery.${d.status}`) : t('delivery.unknown', { status: d.status }),
  })];
  if (d.status !== 'SENT' && d.attempts > 0) out.push(h('span', { class: 'sub', text: t('delivery.attempts', { attempts: d.attempts }) }));
  if (d.lastError && d.status !== 'SENT') out.push(h('span', { class: 'sub', text: t('delivery.lastError', { error: d.lastError }) }));
  return out;
}

/** linkFacts are the facts of a binding the activation and details views show. */
function linkFacts(si) {
  return [
    [t('activate.email'), h('span', { class: 'email', text: si.email }), 'email'],
    [t('activate.mobile'), h('span', { text: maskPhone(si.countryCode, si.phone) }), 'mobile'],
    [t('activate.sentAt'), si.linkSentAt ? timeEl(si.linkSentAt) : h('span', { class: 'warn-text', text: t('activate.notSent') }), 'linkSentAt'],
    [t('activate.expiresAt'), si.linkExpiresAt ? timeEl(si.linkExpiresAt) : h('span', { class: 'muted', text: t('activate.expiresUnknown') }), 'linkExpiresAt'],
    [t('activate.delivery'), h('span', { class: 'stack' }, deliveryNodes(si.delivery)), 'delivery'],
  ];
}

/**
 * activateView is "Bind security information (activate)": the pending
 * binding, when its link was sent and expires, "Send again", and the
 * modification form.
 */
function activateView(app, m, notice) {
  let member = m;
  let timer = null;
  let view = null;
  const info = h('div', { class: 'info' });

  const resendBox = alertBox();
  const resendStatus = h('p', { class: 'status-msg', role: 'status' });
  const resendNote = h('p', { id: uid('resend-note'), class: 'hint', hidden: true, dataset: { note: 'resend' } });
  const resend = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'resend' }, text: t('activate.resend') });
  const resendHelp = h('p', { class: 'hint' });

  const modifyBox = alertBox();
  const modifyStatus = h('p', { class: 'status-msg', role: 'status' });
  const remaining = h('p', { class: 'remaining', dataset: { remaining: '' } });
  const f = securityFields({
    email: m.securityInfo.email,
    countryCode: plusCode(m.securityInfo.countryCode),
    phone: nationalNumber(m.securityInfo),
  });
  const modifySubmit = h('button', { type: 'submit', class: 'btn', text: t('modify.submit') });
  const fieldset = h('fieldset', { class: 'plain' }, ...f.nodes, h('div', { class: 'dialog-actions' }, modifySubmit));
  const modifyForm = h('form', { class: 'form', novalidate: true, dataset: { form: 'modify' } }, fieldset);

  let shownEmail = m.securityInfo.email;
  const render = (mm) => {
    member = mm;
    const si = mm.securityInfo;
    // What the view last said about sending (a link sent again, a
    // modification) named the email it was sent to: once the email is
    // another, it is no longer true, so it goes.
    if (si.email !== shownEmail) {
      resendStatus.textContent = '';
      modifyStatus.textContent = '';
      shownEmail = si.email;
    }
    info.replaceChildren(dl('facts', linkFacts(si)));
    resendHelp.replaceChildren(t('activate.resendHelp', { email: si.email }));
    clearTimeout(timer);
    if (si.nextResendAllowedAt) {
      resend.disabled = true;
      resend.setAttribute('aria-describedby', resendNote.id);
      resendNote.replaceChildren(...tn('activate.resendAt', { time: timeEl(si.nextResendAllowedAt) }));
      resendNote.hidden = false;
      // Look again when the server said it would allow it; it decides.
      const wait = new Date(si.nextResendAllowedAt).getTime() - Date.now();
      if (wait > 0 && wait < 2 * 60 * 60 * 1000) timer = setTimeout(refresh, wait + 1000);
    } else {
      resend.disabled = false;
      resend.removeAttribute('aria-describedby');
      resendNote.hidden = true;
    }
    const n = si.modificationsRemaining;
    remaining.dataset.remaining = String(n);
    remaining.textContent = n > 0 ? t('modify.remaining', { n }) : t('modify.none');
    fieldset.disabled = n <= 0;
  };

  const refresh = async () => {
    const mm = await load(app, member.id, resendBox);
    if (!mm || !viewOpen(view)) return;
    app.changed(mm);
    if (mm.bindStatus !== 'PENDING') {
      showFor(app, mm);
      return;
    }
    render(mm);
  };

  // After a refusal the member may have moved on (the link expired while the
  // dialog was open): then the view for its new state, with the message.
  const moveOn = (p, box) => {
    const notice = p.userErrors.map((e) => ({ text: userErrorMessage(e), code: e.code }));
    if (p.member && p.member.bindStatus !== 'PENDING') {
      showFor(app, p.member, notice);
      return true;
    }
    showUserErrors(p.userErrors, [], box);
    return false;
  };

  resend.addEventListener('click', async () => {
    showAlert(resendBox, null);
    resendStatus.textContent = '';
    modifyStatus.textContent = '';
    let p;
    try {
      p = await busy(resend, () => app.client.mutate('resendActivationLink', { memberId: member.id }));
    } catch (err) {
      app.failed(err, resendBox);
      return;
    }
    if (p.member) app.changed(p.member);
    if (!viewOpen(view)) return;
    if (p.member && p.member.bindStatus === 'PENDING') render(p.member);
    if (p.userErrors.length > 0) {
      moveOn(p, resendBox);
      return;
    }
    resendStatus.textContent = t('activate.resent', { email: p.member.securityInfo.email });
  });

  modifyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(f.all);
    showAlert(modifyBox, null);
    modifyStatus.textContent = '';
    resendStatus.textContent = '';
    let p;
    try {
      p = await busy(modifySubmit, () => app.client.mutate('updateSecurityInfo', securityInput(member, f)));
    } catch (err) {
      app.failed(err, modifyBox);
      return;
    }
    if (p.member) app.changed(p.member);
    if (!viewOpen(view)) return;
    if (p.userErrors.length > 0) {
      if (p.member && p.member.bindStatus !== 'PENDING') {
        moveOn(p, modifyBox);
        return;
      }
      if (p.member) render(p.member);
      const first = showUserErrors(p.userErrors, f.all, modifyBox);
      if (first) first.focus();
      return;
    }
    render(p.member);
    const si = p.member.securityInfo;
    f.email.input.value = si.email;
    f.countryCode.input.value = plusCode(si.countryCode);
    f.phone.input.value = nationalNumber(si);
    modifyStatus.textContent = t('modify.done', { email: si.email });
  });

  render(m);
  view = openDialog({
    kind: 'activate',
    title: t('activate.title'),
    content: [
      memberLine(m),
      h('p', { class: 'intro', text: t('activate.intro') }),
      info,
      h('section', { class: 'dialog-section', 'aria-labelledby': 'resend-title' },
        h('h3', { id: 'resend-title', text: t('activate.resendTitle') }),
        resendHelp, resendBox,
        h('div', { class: 'inline-actions' }, resend),
        resendNote, resendStatus),
      h('section', { class: 'dialog-section', 'aria-labelledby': 'modify-title' },
        h('h3', { id: 'modify-title', text: t('modify.title') }),
        remaining,
        h('p', { class: 'hint', text: t('modify.help') }),
        modifyBox, modifyForm, modifyStatus),
    ],
    focus: resend.disabled ? modifySubmit : resend,
    returnFocus: app.focusRow(m.id, 'activate'),
    onClose: () => clearTimeout(timer),
  });
  if (notice) showAlert(resendBox, notice);
}

/**
 * failedView is "Bind security information (failed)": what failed and
 * when, and "Bind again", which opens the form for rebindSecurityInfo.
 */
function failedView(app, m, notice) {
  const si = m.securityInfo;
  const box = alertBox();
  const again = h('button', {
    type: 'button', class: 'btn btn-primary', dataset: { action: 'rebind' }, text: t('failed.rebind'),
    onclick: () => bindView(app, m, 'rebind'),
  });
  openDialog({
    kind: 'failed',
    title: t('failed.title'),
    content: [
      memberLine(m),
      h('p', { class: 'intro', text: t('failed.intro', { email: si.email }) }),
      dl('facts', [
        [t('activate.email'), h('span', { class: 'email', text: si.email }), 'email'],
        [t('activate.mobile'), h('span', { text: maskPhone(si.countryCode, si.phone) }), 'mobile'],
        [t('activate.sentAt'), timeEl(si.linkSentAt), 'linkSentAt'],
        [t('failed.expiredAt'), timeEl(si.linkExpiresAt), 'linkExpiresAt'],
      ]),
      h('p', { class: 'note-strong', text: t('failed.burned') }),
      box,
      h('div', { class: 'dialog-actions' }, cancelButton(), again),
    ],
    focus: again,
    returnFocus: app.focusRow(m.id, 'failed'),
  });
  if (notice) showAlert(box, notice);
}

/** openCreate is "Create member" (type CREATED) or "Invite member" (INVITED). */
export function openCreate(app, type, opener) {
  const invite = type === 'INVITED';
  const name = field({ name: 'name', label: t('field.name'), maxlength: 200, required: true });
  const remark = field({ name: 'remark', label: t('field.remark'), multiline: true, maxlength: 1000 });
  const fields = [name, remark];
  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t(invite ? 'invite.submit' : 'create.submit') });
  const form = h('form', { class: 'form', novalidate: true, dataset: { form: invite ? 'invite' : 'create' } },
    name.wrap, remark.wrap,
    h('div', { class: 'dialog-actions' }, cancelButton(), submit));
  let created = null;
  let view = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(fields);
    showAlert(box, null);
    let p;
    try {
      p = await busy(submit, () => app.client.mutate(invite ? 'inviteMember' : 'createMember', {
        name: name.input.value.trim(),
        remark: remark.input.value.trim() || null,
      }));
    } catch (err) {
      app.failed(err, box);
      return;
    }
    if (p.userErrors.length > 0) {
      if (!viewOpen(view)) return;
      const first = showUserErrors(p.userErrors, fields, box);
      if (first) first.focus();
      return;
    }
    created = p.member;
    closeDialog(view);
    app.created(p.member);
    app.toast(t(invite ? 'invite.done' : 'create.done', { name: p.member.name }));
  });
  view = openDialog({
    kind: invite ? 'invite' : 'create',
    title: t(invite ? 'invite.title' : 'create.title'),
    content: [h('p', { class: 'intro', text: t(invite ? 'invite.note' : 'create.note') }), box, form],
    focus: name.input,
    returnFocus: () => (created ? app.focusRow(created.id, 'details')() : null) || opener,
  });
}

/** openRemove asks to confirm removeMember, or says why it is not allowed. */
export async function openRemove(app, id) {
  const m = await load(app, id);
  if (!m) return;
  const box = alertBox();
  const submit = h('button', { type: 'button', class: 'btn btn-danger', dataset: { action: 'confirm-remove' }, text: t('remove.submit') });
  let gone = false;
  let view = null;
  submit.addEventListener('click', async () => {
    showAlert(box, null);
    let p;
    try {
      p = await busy(submit, () => app.client.mutate('removeMember', { memberId: m.id }));
    } catch (err) {
      app.failed(err, box);
      return;
    }
    if (p.userErrors.length > 0) {
      if (p.member) app.changed(p.member);
      if (viewOpen(view)) showUserErrors(p.userErrors, [], box);
      return;
    }
    gone = true;
    closeDialog(view);
    app.removed(m);
    app.toast(t('remove.done', { name: m.name }));
  });
  const content = [h('p', { class: 'intro', text: t('remove.confirm', { name: m.name }) })];
  if (m.removal.allowed) {
    content.push(h('p', { class: 'hint', text: m.loginEmail ? t('remove.keeps', { email: m.loginEmail }) : t('remove.keepsNone') }));
  } else {
    submit.disabled = true;
    content.push(h('div', { class: 'alert alert-error' },
      h('p', { text: t('action.cantRemove') }),
      h('ul', {}, m.removal.reasons.map((r) => h('li', { text: sentence(r) })))));
  }
  content.push(box, h('div', { class: 'dialog-actions' }, cancelButton(), submit));
  view = openDialog({
    kind: 'remove',
    title: t('remove.title'),
    content,
    returnFocus: () => (gone ? app.focusRow(null, null)() : app.focusRow(m.id, 'remove')()),
  });
}

/** eventItem is one entry of a member's history. */
function eventItem(e) {
  const actor = e.actor === 'system' || e.actor === 'member' ? t(`actor.${e.actor}`) : e.actor;
  return h('li', { class: 'event', dataset: { kind: e.kind } },
    h('div', { class: 'event-head' },
      h('span', { class: 'event-kind', text: t(`event.${e.kind}`) }),
      timeEl(e.occurredAt)),
    h('div', { class: 'event-meta' },
      e.email ? h('span', { class: 'email' }, `${t('event.email')}: `, e.email) : null,
      h('span', {}, `${t('event.actor')}: `, actor),
      e.detail ? h('span', { class: 'event-detail' }, `${t('event.detail')}: `, e.detail) : null));
}

/**
 * openDetails shows a member: its login email, security information,
 * whether it can be removed, and its history, newest first.
 */
export async function openDetails(app, id) {
  let m;
  try {
    m = await app.client.member(id, { events: 20 });
  } catch (err) {
    app.failed(err);
    return;
  }
  if (!m) {
    app.toast(t('dialog.gone'));
    app.changed(null);
    return;
  }
  const si = m.securityInfo;
  const none = () => h('span', { class: 'muted', text: t('common.none') });
  const facts = dl('facts', [
    [t('details.loginEmail'), m.loginEmail ? h('strong', { class: 'email', text: m.loginEmail }) : none(), 'loginEmail'],
    [t('details.status'), statusBadge(m.bindStatus), 'status'],
    [t('details.type'), t(`type.${m.memberType}`), 'type'],
    m.remark ? [t('details.remark'), h('span', { class: 'pre', text: m.remark }), 'remark'] : null,
    [t('details.created'), timeEl(m.createdAt), 'created'],
    [t('details.id'), h('code', { text: m.id }), 'id'],
  ]);

  let security;
  if (m.memberType === 'INVITED') {
    security = h('p', { class: 'hint', text: t('action.invitedNote') });
  } else if (!si) {
    security = h('p', { class: 'hint', text: t('details.noSecurity') });
  } else {
    // Once activated, the links and their mail are history (in the events).
    const facts = si.status === 'ACTIVATED' ? linkFacts(si).slice(0, 2) : linkFacts(si);
    security = dl('facts', [
      ...facts,
      [t('details.submittedAt'), timeEl(si.submittedAt), 'submittedAt'],
      si.activatedAt ? [t('details.activatedAt'), timeEl(si.activatedAt), 'activatedAt'] : null,
      si.status === 'PENDING' ? [t('details.modifications'), String(si.modificationsRemaining), 'modificationsRemaining'] : null,
    ]);
  }

  const removal = m.removal.allowed
    ? h('p', { class: 'hint', text: t('details.removable') })
    : h('div', {}, h('p', { class: 'hint', text: t('action.cantRemove') }), h('ul', { class: 'reasons' }, m.removal.reasons.map((r) => h('li', { text: sentence(r) }))));

  const events = h('ol', { class: 'events' });
  const more = h('button', { type: 'button', class: 'btn btn-quiet', text: t('details.more'), hidden: true });
  let after = null;
  let view = null;
  const addEvents = (conn) => {
    for (const edge of conn.edges) events.append(eventItem(edge.node));
    after = conn.pageInfo.endCursor;
    more.hidden = !conn.pageInfo.hasNextPage;
    if (events.children.length === 0) events.append(h('li', { class: 'muted', text: t('details.noEvents') }));
  };
  addEvents(m.events);
  more.addEventListener('click', async () => {
    try {
      const next = await busy(more, () => app.client.member(m.id, { events: 50, after }));
      if (next && viewOpen(view)) addEvents(next.events);
    } catch (err) {
      app.failed(err);
    }
  });

  view = openDialog({
    kind: 'details',
    title: m.name,
    content: [
      h('p', { class: 'dialog-member', text: t('details.title') }),
      facts,
      h('section', { class: 'dialog-section' }, h('h3', { text: t('details.security') }), security),
      h('section', { class: 'dialog-section' }, h('h3', { text: t('details.removal') }), removal),
      h('section', { class: 'dialog-section' }, h('h3', { text: t('details.history') }), events, more),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn', text: t('dialog.close'), onclick: () => closeDialog() })),
    ],
    focus: $('dialog-close'),
    returnFocus: app.focusRow(m.id, 'details'),
  });
}
