// The console's GraphQL client: memberbind's public API at /graphql, with
// the organization's API key as a bearer token. It speaks only the public
// schema (schema.graphqls), like any other frontend would.

/** GraphQLError is a failed request: a GraphQL error or a transport fault. */
export class GraphQLError extends Error {
  constructor(message, code, status) {
    super(message);
    this.name = 'GraphQLError';
    this.code = code || 'ERROR'; // extensions.code, or NETWORK / BAD_RESPONSE
    this.status = status || 0; // HTTP status, 0 when none came
  }
}

const securityInfoFields = `
  email countryCode phone status submittedAt activatedAt linkSentAt linkExpiresAt
  modificationsRemaining nextResendAllowedAt
  delivery { status attempts lastError sentAt }`;

const memberFields = `
fragment MemberFields on Member {
  id name memberType remark createdAt bindStatus loginEmail
  removal { allowed reasons }
  securityInfo { ${securityInfoFields} }
}`;

const payloadFields = `member { ...MemberFields } userErrors { code message field retryAt }`;

const membersQuery = `
query ConsoleMembers($first: Int!, $after: String, $filter: MemberFilter) {
  organization { id name language policy { activationTTLSeconds } }
  members(first: $first, after: $after, filter: $filter) {
    totalCount searchedOnlyNewest
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...MemberFields } }
  }
}
${memberFields}`;

const memberQuery = `
query ConsoleMember($id: ID!, $events: Int!, $after: String) {
  member(id: $id) {
    ...MemberFields
    events(first: $events, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { id kind actor email detail occurredAt } }
    }
  }
}
${memberFields}`;

const liveSubscription = `
subscription ConsoleLive {
  memberChanged { ...MemberFields removedAt }
}
${memberFields}`;

const apiKeyFields = 'id name prefix createdAt lastUsedAt revokedAt';

const apiKeysQuery = `
query ConsoleApiKeys {
  organization { id apiKeys { ${apiKeyFields} } }
}`;

const createApiKeyMutation = `
mutation Console_createApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { ${apiKeyFields} } secret userErrors { code message field } }
}`;

const revokeApiKeyMutation = `
mutation Console_revokeApiKey($input: RevokeApiKeyInput!) {
  revokeApiKey(input: $input) { apiKey { ${apiKeyFields} } userErrors { code message field } }
}`;

const webhookFields = 'id url events enabled disabledAt failingSince deliveries(first: 5) { webhookId type status attempts createdAt lastError responseCode }';

const webhooksQuery = `
query ConsoleWebhooks {
  organization { id webhookEndpoints { ${webhookFields} } }
}`;

const webhookMutations = {
  createWebhookEndpoint: ['CreateWebhookEndpointInput', 'secret'],
  rotateWebhookSecret: ['WebhookEndpointInput', 'secret'],
  updateWebhookEndpoint: ['UpdateWebhookEndpointInput', ''],
  deleteWebhookEndpoint: ['WebhookEndpointInput', ''],
};

/** mutations maps each mutation the console uses to its input type. */
const mutations = {
  createMember: 'CreateMemberInput',
  inviteMember: 'InviteMemberInput',
  bindSecurityInfo: 'SecurityInfoInput',
  updateSecurityInfo: 'SecurityInfoInput',
  rebindSecurityInfo: 'SecurityInfoInput',
  resendActivationLink: 'MemberInput',
  removeMember: 'MemberInput',
};

/**
 * Client talks to the endpoint with the key that getKey returns at the time
 * of each request.
 */
export class Client {
  constructor(endpoint, getKey) {
    this.endpoint = endpoint;
    this.getKey = getKey;
  }

  /** request runs one operation and returns its data, or throws GraphQLError. */
  async request(query, variables) {
    let res;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/graphql-response+json, application/json',
          Authorization: `Bearer ${this.getKey()}`,
        },
        body: JSON.stringify({ query, variables }),
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
      });
    } catch (err) {
      throw new GraphQLError(String(err && err.message ? err.message : err), 'NETWORK', 0);
    }
    let body;
    try {
      body = await res.json();
    } catch {
      throw new GraphQLError(`HTTP ${res.status}`, 'BAD_RESPONSE', res.status);
    }
    if (body && Array.isArray(body.errors) && body.errors.length > 0) {
      const first = body.errors[0];
      const code = (first.extensions && first.extensions.code) || (res.status === 401 ? 'UNAUTHENTICATED' : 'ERROR');
      const message = body.errors.map((e) => e.message).join('; ');
      throw new GraphQLError(message, code, res.status);
    }
    if (!res.ok || !body || !body.data) {
      throw new GraphQLError(`HTTP ${res.status}`, 'BAD_RESPONSE', res.status);
    }
    return body.data;
  }

  /** members reads one page of members and the organization. */
  members({ first, after, filter }) {
    return this.request(membersQuery, { first, after: after || null, filter });
  }

  /** member reads one member with a page of its events; null when none. */
  async member(id, { events = 20, after = null } = {}) {
    const data = await this.request(memberQuery, { id, events, after });
    return data.member;
  }

  /**
   * mutate runs one of the console's mutations and returns its payload:
   * { member, userErrors }.
   */
  async mutate(name, input) {
    const type = mutations[name];
    if (!type) throw new Error(`unknown mutation ${name}`);
    const query = `mutation Console_${name}($input: ${type}!) { ${name}(input: $input) { ${payloadFields} } }
${memberFields}`;
    const data = await this.request(query, { input });
    return data[name];
  }

  /** apiKeys reads the organization's API keys, newest first. */
  async apiKeys() {
    const data = await this.request(apiKeysQuery, {});
    return data.organization.apiKeys;
  }

  /**
   * createApiKey creates a key: { apiKey, secret, userErrors }. It is
   * never sent with an Idempotency-Key, whose answers the server keeps:
   * this one holds the secret.
   */
  async createApiKey(name) {
    const data = await this.request(createApiKeyMutation, { input: { name } });
    return data.createApiKey;
  }

  /** revokeApiKey revokes a key: { apiKey, userErrors }. */
  async revokeApiKey(id) {
    const data = await this.request(revokeApiKeyMutation, { input: { id } });
    return data.revokeApiKey;
  }

  /** webhookEndpoints reads the organization's webhook endpoints, newest first. */
  async webhookEndpoints() {
    const data = await this.request(webhooksQuery, {});
    return data.organization.webhookEndpoints;
  }

  /**
   * webhookMutation runs one of the webhook mutations: { endpoint, userErrors }
   * and, for those that make one, the secret. Like createApiKey, those are
   * never sent with an Idempotency-Key.
   */
  async webhookMutation(name, input) {
    const [type, secret] = webhookMutations[name];
    const query = `mutation Console_${name}($input: ${type}!) { ${name}(input: $input) { endpoint { ${webhookFields} } ${secret} userErrors { code message field } } }`;
    const data = await this.request(query, { input });
    return data[name];
  }

  createWebhookEndpoint(url, events) { return this.webhookMutation('createWebhookEndpoint', { url, events }); }

  rotateWebhookSecret(id) { return this.webhookMutation('rotateWebhookSecret', { id }); }

  updateWebhookEndpoint(input) { return this.webhookMutation('updateWebhookEndpoint', input); }

  deleteWebhookEndpoint(id) { return this.webhookMutation('deleteWebhookEndpoint', { id }); }

  /**
   * live subscribes to memberChanged over the graphql-transport-ws
   * protocol on the endpoint's websocket, and calls onMember with each
   * member that changed, as it stands. A lost connection is opened again
   * after a pause that grows to half a minute, and onReconnect is called
   * once it is back: changes made meanwhile were missed, so the caller
   * reads again. A refused key (close code 4403) stops it. It returns a
   * function that stops it.
   */
  live(onMember, onReconnect) {
    const url = new URL(this.endpoint, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket = null;
    let stopped = false;
    let timer = null;
    let pause = 1000;
    let opened = false;
    const connect = () => {
      socket = new WebSocket(url, 'graphql-transport-ws');
      socket.onopen = () => {
        socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${this.getKey()}` } }));
      };
      socket.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return;
        }
        switch (msg.type) {
          case 'connection_ack':
            pause = 1000;
            socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: liveSubscription } }));
            if (opened && onReconnect) onReconnect();
            opened = true;
            break;
          case 'ping':
            socket.send(JSON.stringify({ type: 'pong' }));
            break;
          case 'next':
            if (msg.payload && msg.payload.data && msg.payload.data.memberChanged) onMember(msg.payload.data.memberChanged);
            break;
          case 'error':
            // The subscription was refused or ended (a revoked key): the
            // list still works by reading.
            stopped = true;
            socket.close(1000);
            break;
          default:
        }
      };
      socket.onclose = (ev) => {
        if (stopped || ev.code === 4403) return;
        timer = setTimeout(connect, pause);
        pause = Math.min(pause * 2, 30000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close(1000);
    };
  }
}
