// Every string the console shows, in English and Simplified Chinese, and the
// formatting of times. The language is the one chosen in the page's switch,
// else the browser's (navigator.language).

/** The catalogs. Each has the same keys; {name} is filled in by t(). */
export const catalogs = {
  en: {
    'app.title': 'Member account management · memberbind',
    'app.skip': 'Skip to content',
    'app.console': 'Organization console',
    'lang.label': 'Language',

    'key.title': "Sign in with your organization's API key",
    'key.intro': "The console manages your organization's member accounts through memberbind's GraphQL API. Paste the API key you got when the organization was created (it starts with mb_).",
    'key.label': 'API key',
    'key.help': 'The key stays in this browser tab (session storage) until you sign out or close the tab.',
    'key.submit': 'Use this key',
    'key.forget': 'Sign out (forget key)',
    'key.required': 'Paste the API key.',
    'key.shape': 'This is not an API key: a key is mb_ followed by at least 43 letters, digits, - or _.',
    'key.linkShape': 'The link you opened carries a key (#key=…) that is not an API key: a key is mb_ followed by at least 43 letters, digits, - or _. It is in the field below: correct it, or paste the key.',
    'key.linkEmpty': 'The link you opened has an empty key (#key=). Paste the API key.',
    'key.forgotten': 'Signed out: the API key was removed from this tab.',

    'banner.dismiss': 'Dismiss',
    'banner.unauthenticated': 'The API key was refused ({code}): {message}. Paste your organization’s API key again.',
    'banner.network': 'Could not reach memberbind ({code}): {message}. Check your connection and try again.',
    'banner.error': 'The request failed ({code}): {message}',

    'members.title': 'Member account management',
    'members.create': 'Create member',
    'members.invite': 'Invite member',

    'filter.search': 'Search',
    'filter.searchPlaceholder': 'Member name or email',
    'filter.status': 'Status',
    'filter.type': 'Type',
    'filter.all': 'All',
    'filter.apply': 'Search',
    'filter.reset': 'Reset',

    'status.UNBOUND': 'Unbound',
    'status.PENDING': 'Pending activation',
    'status.ACTIVATED': 'Activated',
    'status.FAILED': 'Activation failed',
    'type.CREATED': 'Created',
    'type.INVITED': 'Invited',

    'col.name': 'Member name',
    'col.type': 'Type',
    'col.status': 'Status',
    'col.loginEmail': 'Login email',
    'col.created': 'Created',
    'col.actions': 'Operation',

    'list.loading': 'Loading members…',
    'list.range': 'Members {from}–{to} of {total}',
    'list.emptyAll': 'No member accounts yet. Create one with “Create member”.',
    'list.emptyFiltered': 'No member matches the search and filters.',
    'list.searchedNewest': 'Only the newest {count} members were searched. To find anyone, search for their full email address.',
    'pager.label': 'Pages',
    'pager.prev': 'Previous',
    'pager.next': 'Next',
    'pager.size': 'Per page',
    'pager.page': 'Page {page}',

    'row.showDetails': 'Show the details of {name}',
    'row.pendingTo': 'Link to {email}',
    'row.failedEmail': 'Failed: {email}',

    'action.bind': 'Bind security information',
    'action.activate': 'Bind security information (activate)',
    'action.failed': 'Bind security information (failed)',
    'action.remove': 'Remove',
    'action.why': 'Why?',
    'action.whyRemove': 'Why can’t {name} be removed?',
    'action.invitedNote': 'Security information can’t be bound for invited member accounts.',
    'action.cantRemove': 'Can’t be removed yet:',

    'common.none': '—',
    'common.working': 'Working…',

    'dialog.close': 'Close',
    'dialog.cancel': 'Cancel',
    'dialog.submit': 'Submit',
    'dialog.member': 'Member account: {name}',
    'dialog.gone': 'This member account is no longer in the organization.',
    'dialog.errorsIntro': 'Please correct the fields marked below.',

    'field.email': 'Email',
    'field.countryCode': 'Country code',
    'field.phone': 'Mobile number',
    'field.mobile': 'Verification mobile number',
    'field.name': 'Member name',
    'field.remark': 'Remark (optional)',
    'field.emailHint': 'The login email of the member account, once activated.',

    'bind.title': 'Bind security information',
    'bind.rebindTitle': 'Bind security information again',
    'bind.noteUnique': 'Each email address can be bound to only one member account.',
    'bind.noteModify': 'Before it is activated, the security information can be modified only a limited number of times (3 by default), so enter it correctly.',
    'bind.noteLink': 'After you submit, an activation link is sent to the email. It expires 15 days (by default) after it is sent: the member must click it in time.',
    'bind.noteLinkTTL': 'After you submit, an activation link is sent to the email. It expires {ttl} after it is sent: the member must click it in time.',
    'bind.rebindNote': 'The email {email} failed to activate and can’t be bound again: enter a new email.',
    'bind.done': 'Security information of {name} submitted. An activation link will be sent to {email}.',

    'activate.title': 'Bind security information (activate)',
    'activate.intro': 'The member must open the activation link in the mail and confirm before it expires.',
    'activate.email': 'Email',
    'activate.mobile': 'Mobile number',
    'activate.sentAt': 'Link sent',
    'activate.notSent': 'Not sent yet',
    'activate.expiresAt': 'Link expires',
    'activate.expiresUnknown': 'Counted from when the mail is sent',
    'activate.delivery': 'Newest link’s mail',
    'activate.resendTitle': 'Send the activation link again',
    'activate.resendHelp': 'A new link goes to {email}. Earlier links stay valid until they expire.',
    'activate.resend': 'Send again',
    'activate.resendAt': 'You can send it again at {time}.',
    'activate.resent': 'A new activation link will be sent to {email}.',

    'delivery.QUEUED': 'Queued: waiting to be sent',
    'delivery.SENT': 'Accepted by the mail server',
    'delivery.RETRYING': 'Retrying: the mail server did not accept it yet',
    'delivery.FAILED': 'Failed: the mail server refused it. Check the email and modify it.',
    'delivery.CANCELLED': 'Cancelled: no longer needed',
    'delivery.unknown': 'Status {status}',
    'delivery.attempts': 'Attempts: {attempts}',
    'delivery.lastError': 'Last error: {error}',

    'modify.title': 'Modify security information',
    'modify.remaining': 'Modifications remaining before activation: {n}',
    'modify.none': 'No modifications remain before activation. Send the link again, or wait for it to expire and bind again.',
    'modify.help': 'A modification sends a new link to the email; every earlier link stops working.',
    'modify.submit': 'Modify',
    'modify.done': 'Security information modified. A new activation link will be sent to {email}; earlier links no longer work.',

    'failed.title': 'Bind security information (failed)',
    'failed.intro': 'The activation link sent to {email} expired without being used, so the binding failed.',
    'failed.burned': 'An email that failed to activate can’t be bound again: bind again with a new email.',
    'failed.expiredAt': 'Link expired',
    'failed.rebind': 'Bind again',
    'failed.done': 'New security information of {name} submitted. An activation link will be sent to {email}.',

    'create.title': 'Create member',
    'create.note': 'Creates a member account of the organization. Bind its security information next, so that it gets a login email.',
    'create.submit': 'Create',
    'create.done': 'Member account {name} created.',
    'invite.title': 'Invite member',
    'invite.note': 'Records an existing account that joined the organization. Security information can’t be bound for invited member accounts.',
    'invite.submit': 'Invite',
    'invite.done': 'Invited member {name} recorded.',

    'remove.title': 'Remove member',
    'remove.confirm': 'Remove {name} from the organization?',
    'remove.keeps': 'The account keeps its login email {email}: removal ends the membership, not the account.',
    'remove.keepsNone': 'The account itself is not deleted: it only leaves the organization.',
    'remove.submit': 'Remove',
    'remove.done': '{name} was removed from the organization.',

    'details.title': 'Member details',
    'details.id': 'Member ID',
    'details.type': 'Type',
    'details.status': 'Status',
    'details.loginEmail': 'Login email',
    'details.remark': 'Remark',
    'details.created': 'Created',
    'details.security': 'Security information',
    'details.noSecurity': 'No security information is bound yet.',
    'details.submittedAt': 'Submitted',
    'details.activatedAt': 'Activated',
    'details.modifications': 'Modifications remaining',
    'details.removal': 'Removal',
    'details.removable': 'Can be removed from the organization.',
    'details.history': 'History',
    'details.noEvents': 'Nothing has happened yet.',
    'details.more': 'Show older events',

    'event.email': 'Email',
    'event.actor': 'By',
    'event.detail': 'Detail',
    'event.CREATED': 'Created',
    'event.INVITED': 'Invited',
    'event.SUBMITTED': 'Security information submitted',
    'event.MODIFIED': 'Security information modified',
    'event.LINK_SENT': 'Activation link sent',
    'event.LINK_RESENT': 'Activation link sent again',
    'event.DELIVERY_DELAYED': 'Mail delivery delayed',
    'event.DELIVERY_FAILED': 'Mail delivery failed',
    'event.ACTIVATED': 'Activated',
    'event.EXPIRED': 'Activation link expired',
    'event.REBOUND': 'Security information bound again',
    'event.REMOVED': 'Removed from the organization',
    'event.SIGNED_IN': 'Signed in with the login email',
    'actor.system': 'system',
    'actor.member': 'the member',

    'error.MEMBER_NOT_FOUND': 'This member account is not in the organization.',
    'error.INVITED_MEMBER': 'Security information can’t be bound for invited member accounts.',
    'error.ALREADY_BOUND': 'This member account already has security information.',
    'error.NOT_PENDING': 'The security information is not waiting for activation.',
    'error.NOT_FAILED': 'Only security information whose activation failed can be bound again.',
    'error.EMAIL_ALREADY_USED': 'This email is already bound to another member account.',
    'error.EMAIL_PREVIOUSLY_FAILED': 'This email failed to activate before and can’t be bound again: use another email.',
    'error.SAME_AS_CURRENT': 'This is the same as the current security information: nothing was changed.',
    'error.INVALID_EMAIL': 'Enter a valid email address.',
    'error.INVALID_PHONE': 'Enter a valid mobile number for the country code.',
    'error.INVALID_INPUT': 'Check this value.',
    'error.MODIFICATION_LIMIT_REACHED': 'The security information can’t be modified any more before activation.',
    'error.RESEND_LIMIT_REACHED': 'The activation link was sent too many times.',
    'error.RECIPIENT_LIMIT_REACHED': 'This email address was sent too many activation mails within the last hour.',
    'error.ORGANIZATION_MAIL_LIMIT_REACHED': 'The organization sent its activation mails for this hour.',
    'error.LINK_EXPIRED': 'The activation link expired: bind the security information again with a new email.',
    'error.NOT_REMOVABLE': 'This member account can’t be removed yet.',
    'error.API_KEY_NOT_FOUND': 'The organization has no such API key.',
    'error.LAST_API_KEY': 'This is the organization’s last API key and can’t be revoked: create another key first.',
    'hooks.open': 'Webhooks',
    'hooks.title': 'Webhooks',
    'hooks.intro': 'memberbind sends your systems the events they subscribe to, signed as Standard Webhooks says. Failed deliveries are retried for 24 hours; an endpoint that fails for 24 hours is disabled until you enable it again.',
    'hooks.none': 'No endpoint yet.',
    'hooks.colUrl': 'URL',
    'hooks.colEvents': 'Events',
    'hooks.colStatus': 'Status',
    'hooks.colDeliveries': 'Latest deliveries',
    'hooks.colActions': 'Operation',
    'hooks.enabled': 'Enabled',
    'hooks.disabled': 'Disabled',
    'hooks.failingSince': 'Failing since',
    'hooks.noDeliveries': 'None yet',
    'hooks.attempts': '{n} attempt(s)',
    'hooks.enable': 'Enable again',
    'hooks.enabledAgain': 'The endpoint is enabled again.',
    'hooks.rotate': 'New secret',
    'hooks.delete': 'Delete',
    'hooks.deleted': 'The endpoint was deleted.',
    'hooks.newTitle': 'Add an endpoint',
    'hooks.url': 'URL',
    'hooks.urlHint': 'https:// to a public address (http:// only to localhost).',
    'hooks.events': 'Events',
    'hooks.create': 'Add endpoint',
    'hooks.secretTitle': 'The signing secret of {url}',
    'hooks.secretOnce': 'Copy the secret now: it is shown only this once. Your receiver verifies each delivery’s webhook-signature with it.',
    'hooks.secret': 'Signing secret',
    'hooks.event.MEMBER_ACTIVATED': 'member.activated',
    'hooks.event.BINDING_FAILED': 'binding.failed',
    'hooks.event.MAIL_DELIVERY_FAILED': 'mail.delivery_failed',
    'hooks.event.MEMBER_REMOVED': 'member.removed',
    'hooks.event.MEMBER_SIGNED_IN': 'member.signed_in',
    'hooks.status.QUEUED': 'Queued',
    'hooks.status.RETRYING': 'Retrying',
    'hooks.status.DELIVERED': 'Delivered',
    'hooks.status.FAILED': 'Failed',
    'error.WEBHOOK_ENDPOINT_NOT_FOUND': 'The organization has no such webhook endpoint.',
    'error.INVALID_WEBHOOK_URL': 'Webhooks can’t be sent to this URL.',
    'keys.open': 'API keys',
    'keys.title': 'API keys',
    'keys.intro': 'Each system that calls the API should have a key of its own. To rotate a key with no downtime: create a new one, deploy it, wait until the old key’s “Last used” stops moving, then revoke the old one.',
    'keys.colName': 'Name',
    'keys.colPrefix': 'Key',
    'keys.colCreated': 'Created',
    'keys.colLastUsed': 'Last used',
    'keys.colStatus': 'Status',
    'keys.colActions': 'Operation',
    'keys.own': 'This console signs in with it',
    'keys.active': 'Active',
    'keys.revokedAt': 'Revoked',
    'keys.neverUsed': 'Never',
    'keys.revoke': 'Revoke',
    'keys.revokeLabel': 'Revoke the key {name}',
    'keys.newTitle': 'Create an API key',
    'keys.name': 'Name',
    'keys.nameHint': 'What the key is for, e.g. the system that will use it.',
    'keys.create': 'Create key',
    'keys.secretTitle': 'The new key “{name}”',
    'keys.secretOnce': 'Copy the key now: it is shown only this once. memberbind keeps only its hash.',
    'keys.secret': 'API key',
    'keys.copy': 'Copy',
    'keys.copied': 'The key was copied.',
    'keys.done': 'I have stored it',
    'keys.revokeTitle': 'Revoke API key',
    'keys.revokeConfirm': 'Revoke the key “{name}” ({prefix}…)? Every request made with it will be refused from now on. This cannot be undone.',
    'keys.revokeOwn': 'This console signs in with this key: you will be signed out.',
    'keys.revoked': 'The key “{name}” was revoked.',
    'keys.ownRevoked': 'The key “{name}” was revoked, and this console signed out. Sign in with another key.',
    'error.retryAt': 'It can be done again at {time}.',
  },

  'zh-CN': {
    'app.title': '成员账号管理 · memberbind',
    'app.skip': '跳到主要内容',
    'app.console': '集团组织控制台',
    'lang.label': '语言',

    'key.title': '使用组织的 API 密钥登录',
    'key.intro': '控制台通过 memberbind 的 GraphQL API 管理组织的成员账号。请粘贴创建组织时获得的 API 密钥（以 mb_ 开头）。',
    'key.label': 'API 密钥',
    'key.help': '密钥只保存在当前浏览器标签页（会话存储）中，退出或关闭标签页后即清除。',
    'key.submit': '使用此密钥',
    'key.forget': '退出（清除密钥）',
    'key.required': '请粘贴 API 密钥。',
    'key.shape': '这不是 API 密钥：密钥以 mb_ 开头，后跟至少 43 个字母、数字、- 或 _。',
    'key.linkShape': '您打开的链接所带的密钥（#key=…）不是 API 密钥：密钥以 mb_ 开头，后跟至少 43 个字母、数字、- 或 _。它已填入下方输入框：请更正，或粘贴密钥。',
    'key.linkEmpty': '您打开的链接所带的密钥为空（#key=）。请粘贴 API 密钥。',
    'key.forgotten': '已退出：API 密钥已从此标签页清除。',

    'banner.dismiss': '关闭',
    'banner.unauthenticated': 'API 密钥被拒绝（{code}）：{message}。请重新粘贴组织的 API 密钥。',
    'banner.network': '无法连接 memberbind（{code}）：{message}。请检查网络后重试。',
    'banner.error': '请求失败（{code}）：{message}',

    'members.title': '成员账号管理',
    'members.create': '新建成员',
    'members.invite': '邀请成员',

    'filter.search': '搜索',
    'filter.searchPlaceholder': '成员名称或邮箱',
    'filter.status': '状态',
    'filter.type': '类型',
    'filter.all': '全部',
    'filter.apply': '搜索',
    'filter.reset': '重置',

    'status.UNBOUND': '未绑定',
    'status.PENDING': '待激活',
    'status.ACTIVATED': '已激活',
    'status.FAILED': '激活失败',
    'type.CREATED': '创建',
    'type.INVITED': '邀请',

    'col.name': '成员名称',
    'col.type': '类型',
    'col.status': '状态',
    'col.loginEmail': '登录邮箱',
    'col.created': '创建时间',
    'col.actions': '操作',

    'list.loading': '正在加载成员…',
    'list.range': '第 {from}–{to} 个成员，共 {total} 个',
    'list.emptyAll': '还没有成员账号。请点击“新建成员”创建。',
    'list.emptyFiltered': '没有符合搜索和筛选条件的成员。',
    'list.searchedNewest': '仅搜索了最新的 {count} 个成员。要查找任意成员，请搜索其完整的邮箱地址。',
    'pager.label': '分页',
    'pager.prev': '上一页',
    'pager.next': '下一页',
    'pager.size': '每页',
    'pager.page': '第 {page} 页',

    'row.showDetails': '查看 {name} 的详情',
    'row.pendingTo': '链接已发往 {email}',
    'row.failedEmail': '失败：{email}',

    'action.bind': '绑定安全信息',
    'action.activate': '绑定安全信息（待激活）',
    'action.failed': '绑定安全信息（失败）',
    'action.remove': '移出组织',
    'action.why': '原因',
    'action.whyRemove': '为什么不能移出 {name}？',
    'action.invitedNote': '邀请的成员账号暂不支持绑定安全信息。',
    'action.cantRemove': '暂不能移出：',

    'common.none': '—',
    'common.working': '处理中…',

    'dialog.close': '关闭',
    'dialog.cancel': '取消',
    'dialog.submit': '提交',
    'dialog.member': '成员账号：{name}',
    'dialog.gone': '该成员账号已不在组织中。',
    'dialog.errorsIntro': '请更正下方标出的字段。',

    'field.email': '邮箱',
    'field.countryCode': '国家/地区代码',
    'field.phone': '手机号',
    'field.mobile': '验证手机号',
    'field.name': '成员名称',
    'field.remark': '备注（可选）',
    'field.emailHint': '激活后即为该成员账号的登录邮箱。',

    'bind.title': '绑定安全信息',
    'bind.rebindTitle': '重新绑定安全信息',
    'bind.noteUnique': '每个邮箱只能绑定一个成员账号。',
    'bind.noteModify': '激活前安全信息只能修改有限次数（默认 3 次），请准确填写。',
    'bind.noteLink': '提交后，激活链接将发送到该邮箱，发送后 15 天（默认）过期，请成员及时点击。',
    'bind.noteLinkTTL': '提交后，激活链接将发送到该邮箱，发送后 {ttl}过期，请成员及时点击。',
    'bind.rebindNote': '邮箱 {email} 激活失败，不能再次绑定，请填写新的邮箱。',
    'bind.done': '已提交 {name} 的安全信息，激活链接将发送到 {email}。',

    'activate.title': '绑定安全信息（待激活）',
    'activate.intro': '成员需要在链接过期前打开邮件中的激活链接并确认。',
    'activate.email': '邮箱',
    'activate.mobile': '手机号',
    'activate.sentAt': '链接发送时间',
    'activate.notSent': '尚未发送',
    'activate.expiresAt': '链接过期时间',
    'activate.expiresUnknown': '从邮件发送时开始计算',
    'activate.delivery': '最新链接的邮件',
    'activate.resendTitle': '再次发送激活链接',
    'activate.resendHelp': '新的链接将发送到 {email}，之前的链接在过期前仍然有效。',
    'activate.resend': '再次发送',
    'activate.resendAt': '可在 {time} 再次发送。',
    'activate.resent': '新的激活链接将发送到 {email}。',

    'delivery.QUEUED': '排队中：等待发送',
    'delivery.SENT': '邮件服务器已接收',
    'delivery.RETRYING': '重试中：邮件服务器尚未接收',
    'delivery.FAILED': '失败：邮件服务器拒收。请检查邮箱并修改。',
    'delivery.CANCELLED': '已取消：不再需要发送',
    'delivery.unknown': '状态 {status}',
    'delivery.attempts': '尝试次数：{attempts}',
    'delivery.lastError': '最近的错误：{error}',

    'modify.title': '修改安全信息',
    'modify.remaining': '激活前剩余修改次数：{n}',
    'modify.none': '激活前已没有修改次数。可以再次发送链接，或等链接过期后重新绑定。',
    'modify.help': '修改后将向邮箱发送新的链接，之前的链接全部失效。',
    'modify.submit': '修改',
    'modify.done': '安全信息已修改，新的激活链接将发送到 {email}，之前的链接已失效。',

    'failed.title': '绑定安全信息（失败）',
    'failed.intro': '发送到 {email} 的激活链接已过期且未被使用，绑定失败。',
    'failed.burned': '激活失败的邮箱不能再次绑定，请使用新的邮箱重新绑定。',
    'failed.expiredAt': '链接过期时间',
    'failed.rebind': '重新绑定',
    'failed.done': '已提交 {name} 的新安全信息，激活链接将发送到 {email}。',

    'create.title': '新建成员',
    'create.note': '为组织创建一个成员账号。接下来请绑定安全信息，使其获得登录邮箱。',
    'create.submit': '创建',
    'create.done': '已创建成员账号 {name}。',
    'invite.title': '邀请成员',
    'invite.note': '记录一个加入组织的已有账号。邀请的成员账号暂不支持绑定安全信息。',
    'invite.submit': '邀请',
    'invite.done': '已记录邀请的成员 {name}。',

    'remove.title': '移出成员',
    'remove.confirm': '确定将 {name} 移出组织吗？',
    'remove.keeps': '该账号保留登录邮箱 {email}：移出只结束成员关系，不删除账号。',
    'remove.keepsNone': '账号本身不会被删除，只是离开组织。',
    'remove.submit': '移出',
    'remove.done': '已将 {name} 移出组织。',

    'details.title': '成员详情',
    'details.id': '成员 ID',
    'details.type': '类型',
    'details.status': '状态',
    'details.loginEmail': '登录邮箱',
    'details.remark': '备注',
    'details.created': '创建时间',
    'details.security': '安全信息',
    'details.noSecurity': '尚未绑定安全信息。',
    'details.submittedAt': '提交时间',
    'details.activatedAt': '激活时间',
    'details.modifications': '剩余修改次数',
    'details.removal': '移出组织',
    'details.removable': '可以移出组织。',
    'details.history': '操作记录',
    'details.noEvents': '暂无记录。',
    'details.more': '查看更早的记录',

    'event.email': '邮箱',
    'event.actor': '操作者',
    'event.detail': '详情',
    'event.CREATED': '创建',
    'event.INVITED': '邀请',
    'event.SUBMITTED': '提交安全信息',
    'event.MODIFIED': '修改安全信息',
    'event.LINK_SENT': '发送激活链接',
    'event.LINK_RESENT': '再次发送激活链接',
    'event.DELIVERY_DELAYED': '邮件投递延迟',
    'event.DELIVERY_FAILED': '邮件投递失败',
    'event.ACTIVATED': '已激活',
    'event.EXPIRED': '激活链接过期',
    'event.REBOUND': '重新绑定安全信息',
    'event.REMOVED': '移出组织',
    'event.SIGNED_IN': '使用登录邮箱登录',
    'actor.system': '系统',
    'actor.member': '成员本人',

    'error.MEMBER_NOT_FOUND': '组织中没有该成员账号。',
    'error.INVITED_MEMBER': '邀请的成员账号暂不支持绑定安全信息。',
    'error.ALREADY_BOUND': '该成员账号已有安全信息。',
    'error.NOT_PENDING': '安全信息不在待激活状态。',
    'error.NOT_FAILED': '只有激活失败的安全信息才能重新绑定。',
    'error.EMAIL_ALREADY_USED': '该邮箱已绑定其他成员账号。',
    'error.EMAIL_PREVIOUSLY_FAILED': '该邮箱曾激活失败，不能再次绑定，请使用其他邮箱。',
    'error.SAME_AS_CURRENT': '与当前安全信息相同，未做任何修改。',
    'error.INVALID_EMAIL': '请输入有效的邮箱地址。',
    'error.INVALID_PHONE': '请输入与国家/地区代码相符的有效手机号。',
    'error.INVALID_INPUT': '请检查此项。',
    'error.MODIFICATION_LIMIT_REACHED': '激活前的修改次数已用完。',
    'error.RESEND_LIMIT_REACHED': '激活链接发送次数过多。',
    'error.RECIPIENT_LIMIT_REACHED': '该邮箱在过去一小时内收到的激活邮件过多。',
    'error.ORGANIZATION_MAIL_LIMIT_REACHED': '本组织本小时的激活邮件已达上限。',
    'error.LINK_EXPIRED': '激活链接已过期，请使用新的邮箱重新绑定。',
    'error.NOT_REMOVABLE': '该成员账号暂不能移出组织。',
    'error.API_KEY_NOT_FOUND': '组织中没有该 API 密钥。',
    'error.LAST_API_KEY': '这是组织的最后一个 API 密钥，不能吊销：请先创建其他密钥。',
    'hooks.open': 'Webhook',
    'hooks.title': 'Webhook',
    'hooks.intro': 'memberbind 按 Standard Webhooks 规范签名，把您的系统订阅的事件推送过去。投递失败会在 24 小时内重试；连续失败 24 小时的端点会被停用，直到您重新启用。',
    'hooks.none': '还没有端点。',
    'hooks.colUrl': 'URL',
    'hooks.colEvents': '事件',
    'hooks.colStatus': '状态',
    'hooks.colDeliveries': '最近投递',
    'hooks.colActions': '操作',
    'hooks.enabled': '已启用',
    'hooks.disabled': '已停用',
    'hooks.failingSince': '失败开始于',
    'hooks.noDeliveries': '暂无',
    'hooks.attempts': '尝试 {n} 次',
    'hooks.enable': '重新启用',
    'hooks.enabledAgain': '端点已重新启用。',
    'hooks.rotate': '更换密钥',
    'hooks.delete': '删除',
    'hooks.deleted': '端点已删除。',
    'hooks.newTitle': '添加端点',
    'hooks.url': 'URL',
    'hooks.urlHint': 'https:// 且为公网地址（http:// 仅限 localhost）。',
    'hooks.events': '事件',
    'hooks.create': '添加端点',
    'hooks.secretTitle': '{url} 的签名密钥',
    'hooks.secretOnce': '请立即复制密钥：它只显示这一次。您的接收端用它校验每次投递的 webhook-signature。',
    'hooks.secret': '签名密钥',
    'hooks.event.MEMBER_ACTIVATED': 'member.activated',
    'hooks.event.BINDING_FAILED': 'binding.failed',
    'hooks.event.MAIL_DELIVERY_FAILED': 'mail.delivery_failed',
    'hooks.event.MEMBER_REMOVED': 'member.removed',
    'hooks.event.MEMBER_SIGNED_IN': 'member.signed_in',
    'hooks.status.QUEUED': '排队中',
    'hooks.status.RETRYING': '重试中',
    'hooks.status.DELIVERED': '已送达',
    'hooks.status.FAILED': '失败',
    'error.WEBHOOK_ENDPOINT_NOT_FOUND': '组织中没有该 Webhook 端点。',
    'error.INVALID_WEBHOOK_URL': '不能向该 URL 发送 Webhook。',
    'keys.open': 'API 密钥',
    'keys.title': 'API 密钥',
    'keys.intro': '每个调用 API 的系统都应使用自己的密钥。不停机轮换密钥：先创建新密钥并部署，等旧密钥的“最近使用”不再变化后，再吊销旧密钥。',
    'keys.colName': '名称',
    'keys.colPrefix': '密钥',
    'keys.colCreated': '创建时间',
    'keys.colLastUsed': '最近使用',
    'keys.colStatus': '状态',
    'keys.colActions': '操作',
    'keys.own': '本控制台正在使用',
    'keys.active': '有效',
    'keys.revokedAt': '已吊销',
    'keys.neverUsed': '从未使用',
    'keys.revoke': '吊销',
    'keys.revokeLabel': '吊销密钥 {name}',
    'keys.newTitle': '创建 API 密钥',
    'keys.name': '名称',
    'keys.nameHint': '密钥的用途，例如将使用它的系统。',
    'keys.create': '创建密钥',
    'keys.secretTitle': '新密钥“{name}”',
    'keys.secretOnce': '请立即复制密钥：它只显示这一次。memberbind 只保存其哈希。',
    'keys.secret': 'API 密钥',
    'keys.copy': '复制',
    'keys.copied': '密钥已复制。',
    'keys.done': '我已保存',
    'keys.revokeTitle': '吊销 API 密钥',
    'keys.revokeConfirm': '吊销密钥“{name}”（{prefix}…）？此后使用它的所有请求都将被拒绝，且无法撤销。',
    'keys.revokeOwn': '本控制台正在使用该密钥：吊销后将退出登录。',
    'keys.revoked': '密钥“{name}”已吊销。',
    'keys.ownRevoked': '密钥“{name}”已吊销，本控制台已退出登录。请使用其他密钥登录。',
    'error.retryAt': '可在 {time} 再试。',
  },
};

export const languages = Object.keys(catalogs);

const storageKey = 'memberbind.console.lang';
let current = 'en';

/** pick returns the supported language closest to a BCP 47 tag. */
export function pick(tag) {
  const l = String(tag || '').toLowerCase();
  if (l.startsWith('zh')) return 'zh-CN';
  return 'en';
}

/** initLang chooses the language: the stored choice, else the browser's. */
export function initLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(storageKey);
  } catch {
    // storage may be off: the browser's language then
  }
  current = stored && catalogs[stored] ? stored : pick(navigator.language);
  document.documentElement.lang = current;
  return current;
}

/** lang is the current language. */
export function lang() {
  return current;
}

/** setLang switches the language and remembers the choice. */
export function setLang(l) {
  current = catalogs[l] ? l : 'en';
  document.documentElement.lang = current;
  try {
    localStorage.setItem(storageKey, current);
  } catch {
    // not remembered; the switch still applies to this page
  }
}

/** t returns the string of key in the current language, with vars filled in. */
export function t(key, vars) {
  let s = catalogs[current][key];
  if (s === undefined) s = catalogs.en[key];
  if (s === undefined) {
    console.warn(`console: no string ${key}`);
    return key;
  }
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (vars[name] === undefined || vars[name] === null ? m : String(vars[name])));
  }
  return s;
}

/** has reports whether the catalog has key. */
export function has(key) {
  return catalogs.en[key] !== undefined;
}

/**
 * applyStatic translates the page's fixed elements: data-i18n sets the
 * text, data-i18n-placeholder and data-i18n-aria-label the attributes.
 */
export function applyStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  document.title = t('app.title');
}

/** formatTime is an ISO instant as a local date and time. */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(current, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
  }).format(d);
}

/** formatNumber is a count with the current language's digit grouping (100,000). */
export function formatNumber(n) {
  return new Intl.NumberFormat(current).format(n);
}

/**
 * formatDuration is a number of seconds in the largest whole unit that
 * divides it: 1296000 is "15 days" in English and "15天" in Chinese.
 */
export function formatDuration(seconds) {
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  const [unit, size] = units.find(([, n]) => seconds % n === 0) || units[units.length - 1];
  return new Intl.NumberFormat(current, { style: 'unit', unit, unitDisplay: 'long' }).format(seconds / size);
}

/**
 * sentence starts prose from the server (English messages and reasons,
 * which begin in lower case) with a capital letter.
 */
export function sentence(s) {
  const text = String(s || '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * userErrorMessage is what a user error says in the current language. In
 * English the server's own message is the most precise; in other languages
 * the catalog's message for its code.
 */
export function userErrorMessage(e) {
  let msg = sentence(e.message);
  if (current !== 'en' || !msg) {
    const key = `error.${e.code}`;
    if (has(key)) msg = t(key);
  }
  if (e.retryAt && current !== 'en') msg += ' ' + t('error.retryAt', { time: formatTime(e.retryAt) });
  return msg;
}
