// Runs the GraphQL-over-HTTP audit suite of the graphql-http package
// (npm) against a memberbind /graphql endpoint, sending the API key with
// every request, and prints one JSON line per audit:
//   {"id": "...", "name": "...", "status": "ok" | "warn" | "error", "reason": "..."}
//
// Usage: node audit.mjs URL API_KEY
// graphql-http and graphql must resolve from NODE_PATH (which only
// require honours, hence createRequire) or a node_modules directory above
// this file; graph's TestGraphQLOverHTTPAudit runs it.
import { createRequire } from 'node:module';

const { serverAudits } = createRequire(import.meta.url)('graphql-http');

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node audit.mjs URL API_KEY');
  process.exit(2);
}

// The audits know nothing of authentication: add the key to each request.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    if (result.response) {
      let body;
      try {
        body = (await result.response.text()).slice(0, 500);
      } catch {
        body = '(read by the audit)';
      }
      line.response = {
        status: result.response.status,
        contentType: result.response.headers.get('content-type'),
        body,
      };
    }
  }
  console.log(JSON.stringify(line));
}
