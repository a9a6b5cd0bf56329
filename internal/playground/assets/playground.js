// playground.js mounts GraphiQL on #graphiql. It is a file of its own because
// the page's Content-Security-Policy allows no inline script. It expects the
// UMD globals React, ReactDOM and GraphiQL, loaded before it.
//
// The API key comes from the URL fragment #key=mb_... (then removed from the
// address bar), else from this tab's sessionStorage, else from the key field
// in the page header. Every request carries it as Authorization: Bearer <key>
// unless GraphiQL's headers editor sets an Authorization header of its own.
(function () {
  'use strict';

  var STORAGE_KEY = 'memberbind.apiKey';
  var DEFAULT_QUERY = [
    '# memberbind GraphQL playground',
    '#',
    '# Requests carry Authorization: Bearer <key>,',
    '# with the API key from the field above; an',
    '# Authorization header in the Headers tab',
    '# below wins over it.',
    '#',
    '# Run with Ctrl-Enter or the run button.',
    '',
    '{',
    '  organization {',
    '    name',
    '  }',
    '  members(first: 20) {',
    '    totalCount',
    '    edges {',
    '      node {',
    '        id',
    '        name',
    '        memberType',
    '        bindStatus',
    '        securityInfo {',
    '          email',
    '          status',
    '          delivery {',
    '            status',
    '          }',
    '        }',
    '      }',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');

  var mount = document.getElementById('graphiql');
  var endpoint = mount.getAttribute('data-endpoint') || '/graphql';
  var keyInput = document.getElementById('mb-key');
  var forgetButton = document.getElementById('mb-forget');
  var keyState = document.getElementById('mb-key-state');

  // GraphiQL's dialogs and menus add <style> elements at run time
  // (react-remove-scroll); they carry the nonce found in __webpack_nonce__,
  // which the page hands over on its stylesheet link.
  var styleLink = document.getElementById('mb-style');
  if (styleLink && styleLink.nonce) {
    window.__webpack_nonce__ = styleLink.nonce;
  }

  function loadKey() {
    try {
      return window.sessionStorage.getItem(STORAGE_KEY) || '';
    } catch (e) {
      return '';
    }
  }

  function saveKey(key) {
    try {
      if (key) {
        window.sessionStorage.setItem(STORAGE_KEY, key);
      } else {
        window.sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch (e) {
      // Storage disabled: the key lives in the field only.
    }
  }

  // keyFromFragment returns the key of #key=... and removes it from the
  // address bar, so it does not stay in the history or get bookmarked.
  function keyFromFragment() {
    if (location.hash.length < 2) {
      return '';
    }
    var params = new URLSearchParams(location.hash.slice(1));
    var key = params.get('key');
    if (key === null) {
      return '';
    }
    params.delete('key');
    var rest = params.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    return key.trim();
  }

  function describe(key, source) {
    if (!key) {
      keyState.textContent = 'No key: paste one, or set Authorization in the Headers tab.';
      keyState.className = 'mb-state mb-warn';
      return;
    }
    var text = source === 'link' ? 'Key taken from the link' : 'Key kept for this tab';
    if (!/^mb_[A-Za-z0-9_-]{43,}$/.test(key)) {
      text = 'This does not look like a memberbind key (mb_ and 43 or more characters)';
      keyState.className = 'mb-state mb-warn';
    } else {
      keyState.className = 'mb-state';
    }
    keyState.textContent = text;
  }

  function makeFetcher(key) {
    return function fetcher(params, opts) {
      return Promise.resolve().then(function () {
        var headers = new Headers({ 'Content-Type': 'application/json', Accept: 'application/json' });
        if (key) {
          headers.set('Authorization', 'Bearer ' + key);
        }
        var extra = (opts && opts.headers) || {};
        Object.keys(extra).forEach(function (name) {
          headers.set(name, String(extra[name]));
        });
        return fetch(endpoint, {
          method: 'POST',
          headers: headers,
          body: JSON.stringify(params),
          credentials: 'omit',
          cache: 'no-store',
        });
      }).then(function (res) {
        return res.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch (e) {
            return { errors: [{ message: 'HTTP ' + res.status + ' ' + res.statusText + ': ' + text.slice(0, 500) }] };
          }
        });
      });
    };
  }

  var root = ReactDOM.createRoot(mount);
  var key = '';

  // render gives GraphiQL a new fetcher for the current key; a new fetcher
  // makes GraphiQL fetch the schema again.
  function render() {
    root.render(
      React.createElement(
        GraphiQL,
        {
          fetcher: makeFetcher(key),
          defaultQuery: DEFAULT_QUERY,
          shouldPersistHeaders: false,
        },
        React.createElement(GraphiQL.Logo, null, 'memberbind'),
      ),
    );
  }

  var source = 'tab';
  key = keyFromFragment();
  if (key) {
    source = 'link';
    saveKey(key);
  } else {
    key = loadKey();
  }
  keyInput.value = key;
  describe(key, source);

  var pending = 0;
  keyInput.addEventListener('input', function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      var next = keyInput.value.trim();
      if (next === key) {
        return;
      }
      key = next;
      saveKey(key);
      describe(key, 'tab');
      render();
    }, 400);
  });

  forgetButton.addEventListener('click', function () {
    window.clearTimeout(pending);
    keyInput.value = '';
    key = '';
    saveKey('');
    describe('', 'tab');
    render();
    keyInput.focus();
  });

  // GraphiQL's editors are CodeMirror 5 instances, whose input is a
  // hidden textarea without a name: screen readers announce "edit text"
  // four times (axe-core's critical "label" rule). This names each one
  // after its pane, whenever GraphiQL (re)creates it; the response pane,
  // read-only and scrolled by its own keys, also becomes a named,
  // focusable region (axe-core's "scrollable-region-focusable").
  var editorNames = [
    ['.graphiql-query-editor .CodeMirror textarea', 'Query editor'],
    ['.graphiql-editor-tool .graphiql-editor:nth-of-type(1) .CodeMirror textarea', 'Variables editor'],
    ['.graphiql-editor-tool .graphiql-editor:nth-of-type(2) .CodeMirror textarea', 'Headers editor'],
    ['.graphiql-response .CodeMirror textarea', 'Response'],
  ];
  function nameEditors() {
    editorNames.forEach(function (entry) {
      var nodes = mount.querySelectorAll(entry[0]);
      for (var i = 0; i < nodes.length; i++) {
        if (nodes[i].getAttribute('aria-label') !== entry[1]) {
          nodes[i].setAttribute('aria-label', entry[1]);
        }
      }
    });
    var scrolls = mount.querySelectorAll('.graphiql-response .CodeMirror-scroll');
    for (var j = 0; j < scrolls.length; j++) {
      if (scrolls[j].getAttribute('tabindex') !== '0') {
        scrolls[j].setAttribute('tabindex', '0');
        scrolls[j].setAttribute('role', 'region');
        scrolls[j].setAttribute('aria-label', 'Response, scrollable');
      }
    }
  }
  // Attributes only change when a name is missing, so the observer's own
  // changes (which it does not watch: childList only) cannot loop.
  new MutationObserver(nameEditors).observe(mount, { childList: true, subtree: true });

  render();
})();
